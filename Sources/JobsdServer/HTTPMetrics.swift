import CoreMetrics
import JobsdHTTP
import JobsdMetrics

/// HTTP metrics (`jobsd_http_*`) fed by the server's observer hooks, emitted through swift-metrics
/// on the server's backend. Routes are labelled by their pattern (`/v1/jobs/{id}`), methods
/// outside the known set as `OTHER`, so label sets stay bounded. The series of each (method,
/// route, status) are made once and kept, so a request costs one dictionary lookup under a lock,
/// an atomic increment and a histogram record, not a registry lookup.
final class HTTPMetrics: @unchecked Sendable {
    let factory: any MetricsFactory
    let router: HTTPRouter
    let connectionsOpen: Meter
    /// Guards `series`.
    private let lock = PThreadLock()
    private var series: [SeriesKey: (requests: Counter, duration: CoreMetrics.Timer)] = [:]

    struct SeriesKey: Hashable {
        var method: String
        var route: String
        var status: Int
    }

    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    init(factory: any MetricsFactory, router: HTTPRouter) {
        self.factory = factory
        self.router = router
        connectionsOpen = Meter(label: MetricFamily.httpConnectionsOpen.name, factory: factory)
    }

    var observer: HTTPServerObserver {
        HTTPServerObserver(
            connectionOpened: { [connectionsOpen] in connectionsOpen.increment() },
            connectionClosed: { [connectionsOpen] in connectionsOpen.decrement() },
            requestCompleted: { [self] method, path, status, seconds in record(method: method, path: path, status: status, seconds: seconds) }
        )
    }

    func record(method: String, path: String?, status: Int, seconds: Double) {
        let key = SeriesKey(method: Self.methods.contains(method) ? method : "OTHER",
                            route: path.flatMap { router.pattern(for: $0) } ?? "unmatched", status: status)
        let handles = lock.withLock { series[key] } ?? makeSeries(key)
        handles.requests.increment()
        handles.duration.recordSeconds(seconds)
    }

    private func makeSeries(_ key: SeriesKey) -> (requests: Counter, duration: CoreMetrics.Timer) {
        let handles = (
            Counter(label: MetricFamily.httpRequests.name,
                    dimensions: [("method", key.method), ("route", key.route), ("status", String(key.status))], factory: factory),
            CoreMetrics.Timer(label: MetricFamily.httpRequestDuration.name, dimensions: [("route", key.route)], factory: factory)
        )
        lock.withLock { series[key] = handles }
        return handles
    }
}
