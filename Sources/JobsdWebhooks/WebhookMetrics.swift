import CoreMetrics
import JobsdMetrics

/// The delivery loop's series, emitted through the swift-metrics API on the factory it was given
/// (names, help texts and buckets: `MetricFamily`).
struct WebhookMetrics: Sendable {
    /// Attempts by outcome: `delivered` (a 2xx answer) or `failed`.
    let attempts: [Bool: Counter]
    /// Deliveries that ended: `delivered`, or `failed` after `--webhook-max-attempts`.
    let deliveries: [Bool: Counter]
    /// Each attempt's time on the monotonic clock, answer or not.
    let attemptDuration: CoreMetrics.Timer

    init(_ factory: any MetricsFactory) {
        var attempts: [Bool: Counter] = [:]
        var deliveries: [Bool: Counter] = [:]
        for delivered in [true, false] {
            let outcome = [("outcome", delivered ? "delivered" : "failed")]
            attempts[delivered] = Counter(label: MetricFamily.webhookAttempts.name, dimensions: outcome, factory: factory)
            deliveries[delivered] = Counter(label: MetricFamily.webhookDeliveries.name, dimensions: outcome, factory: factory)
        }
        self.attempts = attempts
        self.deliveries = deliveries
        attemptDuration = CoreMetrics.Timer(label: MetricFamily.webhookAttemptDuration.name, factory: factory)
    }
}
