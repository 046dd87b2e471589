import JobsdCore
import JobsdHTTP
import JobsdMetrics

/// `/healthz`, `/readyz`, `/metrics` and `/openapi.yaml`.
struct OperationsRoutes: Sendable {
    let engine: JobEngine
    let lifecycle: ServerLifecycle
    let metrics: MetricsRegistry

    func register(in router: inout HTTPRouter) {
        // Both answer at once, on the event loop.
        router.addImmediate("GET", "/healthz") { _ in .json(#"{"status":"ok"}"#) }
        router.addImmediate("GET", "/readyz") { [engine, lifecycle] _ in
            if lifecycle.isDraining { return .problem(status: 503, detail: "jobsd is shutting down", headers: [("Retry-After", "5")]) }
            if !engine.isReady { return .problem(status: 503, detail: "jobsd is starting up", headers: [("Retry-After", "1")]) }
            if let fault = engine.storeFault {
                return .problem(status: 503, detail: "the job store refuses writes: \(fault)", headers: [("Retry-After", "5")])
            }
            return .json(#"{"status":"ready"}"#)
        }
        router.add("GET", "/metrics") { [metrics] _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                         body: .bytes(Array(metrics.render().utf8)))
        }
        router.add("GET", "/openapi.yaml") { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "application/yaml")], body: .bytes(OpenAPIDocument.bytes))
        }
    }
}
