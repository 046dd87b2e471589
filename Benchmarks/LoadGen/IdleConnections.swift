import ArgumentParser

/// Measure 6: jobsd's resident memory while it holds many idle keep-alive connections. Each
/// connection sends one `GET /healthz` and stays open; after a settling second the RSS is read,
/// then every 100th connection is asked again to prove they are still served. All are closed at
/// the end.
struct IdleConnections: Measure {
    static let configuration = CommandConfiguration(abstract: "jobsd's RSS with N idle keep-alive connections.")
    @OptionGroup var server: ServerOptions
    @Option(help: "Connections to open") var count = 10_000
    @Option(help: "jobsd's process id (for /proc/<pid>/status)") var pid: Int32

    func measure() throws -> ResultObject {
        let before = try ProcStatus(pid: pid)
        var connections: [HTTPConnection] = []
        connections.reserveCapacity(count)
        var failed = 0
        var firstError: String?
        let start = Clock.now()
        for _ in 0..<count {
            do {
                let connection = try HTTPConnection(host: server.host, port: server.port)
                let response = try connection.request("GET", "/healthz")
                if response.status == 200, !response.closes { connections.append(connection) } else { failed += 1 }
            } catch {
                failed += 1
                firstError = firstError ?? "\(error)"
            }
        }
        let openSeconds = Double(Clock.now() - start) / 1e9
        Clock.sleep(milliseconds: 1000)
        let after = try ProcStatus(pid: pid)
        var alive = 0, checked = 0
        for connection in stride(from: 0, to: connections.count, by: 100).map({ connections[$0] }) {
            checked += 1
            if (try? connection.request("GET", "/healthz"))?.status == 200 { alive += 1 }
        }
        var result = ResultObject()
        result.set("requested", count)
        result.set("opened", connections.count)
        result.set("failed", failed)
        if let firstError { result.set("first_error", firstError) }
        result.set("open_seconds", openSeconds)
        result.set("rss_before_mb", Double(before.rssKiB) / 1024)
        result.set("rss_mb", Double(after.rssKiB) / 1024)
        result.set("peak_rss_mb", Double(after.peakKiB) / 1024)
        result.set("kb_per_connection", connections.isEmpty ? nil : Double(after.rssKiB - before.rssKiB) / Double(connections.count))
        result.set("alive_checked", checked)
        result.set("alive_ok", alive)
        return result
    }
}
