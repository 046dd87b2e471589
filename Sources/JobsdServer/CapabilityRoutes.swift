import JobsdAPI
import JobsdCore
import JobsdHTTP

/// `GET /v1/capabilities` and `GET /v1/templates`: what this server offers a job, fixed for its
/// life — containment, how each limit is enforced (or why it cannot be), the caps and defaults,
/// the users jobs may run as, the command templates. Built once, answered on the event loop.
struct CapabilityRoutes: Sendable {
    let engine: JobEngine
    let decoder: JobSpecDecoder

    func register(in router: inout HTTPRouter) {
        let body = Self.body(engine: engine, decoder: decoder)
        router.addImmediate("GET", "/v1/capabilities") { _ in .json(body) }
        let templates = decoder.templates.json(templatesOnly: decoder.templatesOnly)
        router.addImmediate("GET", "/v1/templates") { _ in .json(templates) }
    }

    static func body(engine: JobEngine, decoder: JobSpecDecoder) -> String {
        var w = JSONWriter()
        w.raw(#"{"containment":"#)
        w.string(engine.containmentMethod.rawValue)
        w.raw(#","containment_detail":"#)
        w.string(engine.containmentDetail)
        w.raw(#","limits":{"#)
        let mechanisms = engine.limitMechanisms
        for (i, kind) in JobLimits.Kind.allCases.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(kind.rawValue)
            w.raw(#":{"mechanism":"#)
            w.optional(mechanisms[kind]) { $0.string($1.rawValue) }
            w.raw(#","default":"#)
            w.optional(decoder.limits.defaults[kind]) { $0.number($1) }
            w.raw(#","max":"#)
            w.optional(decoder.limits.caps[kind]) { $0.number($1) }
            if let why = engine.limitUnavailable(kind) {
                w.raw(#","unavailable":"#)
                w.string(why)
            }
            w.raw("}")
        }
        w.raw(#"},"users":{"default":"#)
        w.optional(engine.jobUser) { $0.string($1) }
        w.raw(#","allowed":"#)
        w.stringArray(engine.allowedUsers)
        w.raw(#"},"templates":"#)
        w.raw(String(decoder.templates.templates.count))
        w.raw(#","templates_only":"#)
        w.raw(decoder.templatesOnly ? "true" : "false")
        w.raw("}")
        return w.text
    }
}
