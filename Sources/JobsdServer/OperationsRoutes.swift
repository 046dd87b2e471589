import JobsdAPI
import JobsdCore
import JobsdHTTP

/// `/healthz`, `/readyz`, `/metrics` and `/openapi.yaml`.
struct OperationsRoutes: Sendable {
    let engine: JobEngine
    let lifecycle: ServerLifecycle
    let metrics: PrometheusMetrics

    func register(in router: inout HTTPRouter) {
        // Both answer at once, on the event loop.
        router.addImmediate("GET", "/healthz") { _ in .json(#"{"status":"ok"}"#) }
        let ready = Self.readyBody(engine)
        router.addImmediate("GET", "/readyz") { [engine, lifecycle] _ in
            if lifecycle.isDraining { return .problem(status: 503, detail: "jobsd is shutting down", headers: [("Retry-After", "5")]) }
            if !engine.isReady { return .problem(status: 503, detail: "jobsd is starting up", headers: [("Retry-After", "1")]) }
            if let fault = engine.storeFault {
                return .problem(status: 503, detail: "the job store refuses writes: \(fault)", headers: [("Retry-After", "5")])
            }
            return .json(ready)
        }
        router.add("GET", "/metrics") { [metrics] _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                         body: .bytes(metrics.render()))
        }
        router.add("GET", "/openapi.yaml") { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "application/yaml")], body: .bytes(OpenAPIDocument.bytes))
        }
    }

    /// `{"status":"ready","containment":"cgroup"|"proc","containment_detail":"…","limits":{kind:
    /// mechanism or null}}`: fixed for the engine's life, so built once.
    static func readyBody(_ engine: JobEngine) -> String {
        var w = JSONWriter()
        w.raw(#"{"status":"ready","containment":"#)
        w.string(engine.containmentMethod.rawValue)
        w.raw(#","containment_detail":"#)
        w.string(engine.containmentDetail)
        w.raw(#","limits":{"#)
        for (i, kind) in JobLimits.Kind.allCases.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(kind.rawValue)
            w.raw(":")
            w.optional(engine.limitMechanisms[kind]) { $0.string($1.rawValue) }
        }
        w.raw("}}")
        return w.text
    }
}
