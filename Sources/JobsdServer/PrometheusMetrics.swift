import CoreMetrics
import JobsdMetrics
import Prometheus

/// The server's swift-metrics backend: a Prometheus registry of this server's own, rendered by
/// `GET /metrics`. Series named in `MetricFamily` get its `# HELP` text and bucket bounds; any
/// other name (a library's that emits through `MetricsSystem` once `jobsd` bootstrapped it with
/// this backend) is made as swift-prometheus' own factory makes it.
///
/// One backend per server rather than the process-global `MetricsSystem`: several servers in one
/// process (the tests) then count apart. Thread-safe: the registry and its series are.
struct PrometheusMetrics: MetricsFactory {
    let registry = PrometheusCollectorRegistry()
    private var fallback: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    /// The text exposition format (0.0.4) of every series, for `GET /metrics`, laid out as
    /// `PrometheusTextLayout` says (catalogue order, integral numbers as integers).
    func render() -> [UInt8] { PrometheusTextLayout.arranged(registry.emitToBuffer()) }

    /// The family's name whole (no namespace, subsystem or unit to join) with its HELP text.
    private static func descriptor(_ family: MetricFamily) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: family.name, unitName: "", helpText: family.help)
    }

    // MARK: - MetricsFactory

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let family = MetricFamily.named(label) else { return fallback.makeCounter(label: label, dimensions: dimensions) }
        return registry.makeCounter(descriptor: Self.descriptor(family), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        guard let family = MetricFamily.named(label) else {
            return fallback.makeFloatingPointCounter(label: label, dimensions: dimensions)
        }
        return registry.makeCounter(descriptor: Self.descriptor(family), labels: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        guard let family = MetricFamily.named(label) else { return fallback.makeMeter(label: label, dimensions: dimensions) }
        return registry.makeGauge(descriptor: Self.descriptor(family), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard let family = MetricFamily.named(label) else {
            return fallback.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
        }
        guard aggregate else { return registry.makeGauge(descriptor: Self.descriptor(family), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: Self.descriptor(family), labels: dimensions, buckets: family.buckets)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let family = MetricFamily.named(label) else { return fallback.makeTimer(label: label, dimensions: dimensions) }
        let buckets = family.buckets.map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
        return registry.makeDurationHistogram(descriptor: Self.descriptor(family), labels: dimensions, buckets: buckets)
    }

    func destroyCounter(_ handler: any CounterHandler) { fallback.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { fallback.destroyFloatingPointCounter(handler) }
    func destroyMeter(_ handler: any MeterHandler) { fallback.destroyMeter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { fallback.destroyRecorder(handler) }
    func destroyTimer(_ handler: any TimerHandler) { fallback.destroyTimer(handler) }
}
