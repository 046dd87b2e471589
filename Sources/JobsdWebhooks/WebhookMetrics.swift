import JobsdMetrics

/// The delivery loop's Prometheus series.
struct WebhookMetrics: Sendable {
    /// Attempts by result: `delivered` (a 2xx answer) or `failed`.
    let attempts: [Bool: Counter]
    /// Deliveries that ended: `delivered`, or `failed` after `--webhook-max-attempts`.
    let deliveries: [Bool: Counter]
    let attemptDuration: Histogram

    init(_ r: MetricsRegistry) {
        var attempts: [Bool: Counter] = [:]
        var deliveries: [Bool: Counter] = [:]
        for delivered in [true, false] {
            let outcome = [("outcome", delivered ? "delivered" : "failed")]
            attempts[delivered] = r.counter("jobsd_webhook_attempts_total", help: "Completion webhook attempts, by outcome.", labels: outcome)
            deliveries[delivered] = r.counter(
                "jobsd_webhook_deliveries_total", help: "Completion webhooks whose delivery ended, by outcome.", labels: outcome)
        }
        self.attempts = attempts
        self.deliveries = deliveries
        attemptDuration = r.histogram(
            "jobsd_webhook_attempt_duration_seconds", help: "Time one completion webhook attempt took, answer or not.",
            buckets: Histogram.durationBuckets)
    }
}
