import JobsdAPI
import JobsdCore
import JobsdHTTP
import JobsdStore

/// `GET /v1/nodes`: the nodes sharing the store (on SQLite, this node alone).
struct NodeRoutes: Sendable {
    let engine: JobEngine

    func register(in router: inout HTTPRouter) {
        router.add("GET", "/v1/nodes") { [engine] _ in
            let nodes: [NodeRecord]
            do throws(EngineError) { nodes = try await engine.nodes() } catch { return JobRoutes.map(error).response }
            return .json(Self.json(nodes))
        }
    }

    /// `{"nodes":[{"id","address","started_at","last_seen_at","running","max_running","state"}]}`.
    static func json(_ nodes: [NodeRecord]) -> String {
        var w = JSONWriter()
        w.raw("{\"nodes\":[")
        for (index, node) in nodes.enumerated() {
            if index > 0 { w.raw(",") }
            w.raw("{\"id\":"); w.string(node.id)
            w.raw(",\"address\":"); w.string(node.address)
            w.raw(",\"started_at\":"); w.string(node.startedAt.description)
            w.raw(",\"last_seen_at\":"); w.string(node.lastSeenAt.description)
            w.raw(",\"running\":"); w.raw(String(node.running))
            w.raw(",\"max_running\":"); w.raw(String(node.maxRunning))
            w.raw(",\"state\":"); w.string(node.alive ? "alive" : "dead")
            w.raw("}")
        }
        w.raw("]}")
        return w.text
    }
}
