/// One family of jobsd's metrics as `GET /metrics` shows it: the name the code emits under (the
/// swift-metrics `label`), its `# HELP` text and, for a duration histogram, its bucket bounds.
///
/// The engine and the server emit through the swift-metrics API (`Counter`, `Meter`, `Timer`),
/// which carries neither help texts nor buckets; the Prometheus backend looks them up here by name
/// (`MetricFamily.named`). A backend of an embedder's own can ignore this table or use it too.
/// The names, label sets and bounds are part of the contract: dashboards are written against them.
public struct MetricFamily: Sendable {
    /// The Prometheus family name, e.g. `jobsd_jobs_submitted_total`.
    public let name: String
    /// The `# HELP` text.
    public let help: String
    /// Upper bounds, in seconds, of the buckets of a duration histogram (a swift-metrics `Timer`);
    /// empty for counters and gauges.
    public let buckets: [Double]

    init(_ name: String, help: String, buckets: [Double] = []) {
        self.name = name
        self.help = help
        self.buckets = buckets
    }
}
