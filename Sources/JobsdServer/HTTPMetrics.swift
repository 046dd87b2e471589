import JobsdHTTP
import JobsdMetrics

/// HTTP metrics (`jobsd_http_*`) fed by the server's observer hooks. Routes are labelled by their
/// pattern (`/v1/jobs/{id}`), methods outside the known set as `OTHER`, so label sets stay bounded.
/// The series of each (method, route, status) are looked up once and kept, so a request costs two
/// locked increments, not a registry lookup.
final class HTTPMetrics: @unchecked Sendable {
    let registry: MetricsRegistry
    let router: HTTPRouter
    let connectionsOpen: Gauge
    /// Guards `series`.
    private let lock = PThreadLock()
    private var series: [SeriesKey: (requests: Counter, duration: Histogram)] = [:]

    struct SeriesKey: Hashable {
        var method: String
        var route: String
        var status: Int
    }

    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    static let durationBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60]

    init(registry: MetricsRegistry, router: HTTPRouter) {
        self.registry = registry
        self.router = router
        connectionsOpen = registry.gauge("jobsd_http_connections_open", help: "HTTP connections currently open.")
    }

    var observer: HTTPServerObserver {
        HTTPServerObserver(
            connectionOpened: { [connectionsOpen] in connectionsOpen.add(1) },
            connectionClosed: { [connectionsOpen] in connectionsOpen.add(-1) },
            requestCompleted: { [self] method, path, status, seconds in record(method: method, path: path, status: status, seconds: seconds) }
        )
    }

    func record(method: String, path: String?, status: Int, seconds: Double) {
        let key = SeriesKey(method: Self.methods.contains(method) ? method : "OTHER",
                            route: path.flatMap { router.pattern(for: $0) } ?? "unmatched", status: status)
        let handles = lock.withLock { series[key] } ?? makeSeries(key)
        handles.requests.increment()
        handles.duration.observe(seconds)
    }

    private func makeSeries(_ key: SeriesKey) -> (requests: Counter, duration: Histogram) {
        let handles = (
            registry.counter("jobsd_http_requests_total", help: "HTTP requests answered, by method, route pattern and status.",
                             labels: [("method", key.method), ("route", key.route), ("status", String(key.status))]),
            registry.histogram("jobsd_http_request_duration_seconds", help: "Time from a request's arrival to its answer being written.",
                               buckets: Self.durationBuckets, labels: [("route", key.route)])
        )
        lock.withLock { series[key] = handles }
        return handles
    }
}
