import JobsdHTTP
import JobsdMetrics

/// HTTP metrics (`jobsd_http_*`) fed by the server's observer hooks. Routes are labelled by their
/// pattern (`/v1/jobs/{id}`), methods outside the known set as `OTHER`, so label sets stay bounded.
struct HTTPMetrics: Sendable {
    let registry: MetricsRegistry
    let router: HTTPRouter
    let connectionsOpen: Gauge

    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

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
        let route = path.flatMap { router.pattern(for: $0) } ?? "unmatched"
        let m = Self.methods.contains(method) ? method : "OTHER"
        registry.counter("jobsd_http_requests_total", help: "HTTP requests answered, by method, route pattern and status.",
                         labels: [("method", m), ("route", route), ("status", String(status))]).increment()
        registry.histogram("jobsd_http_request_duration_seconds", help: "Time from a request's arrival to its answer being written.",
                           buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60],
                           labels: [("route", route)]).observe(seconds)
    }
}
