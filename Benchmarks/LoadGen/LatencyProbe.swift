import ArgumentParser

/// Request latency over a window, for "does X stall requests" (the retention sweep): `clients`
/// threads GET job paths from `--paths` in turn, `get-interval-ms` apart (a steady load that
/// leaves the machine idle time, so that a stall shows rather than the queueing of a saturated
/// CPU), and one more thread POSTs a `true`
/// job every `post-interval-ms`; GET and POST latencies are summarised apart. With `--gone`, the
/// path is read before and after the window: `swept_in_window` is 1 when it answered 200 before
/// and 404 after (the sweep purged it while the load ran).
struct LatencyProbe: Measure {
    static let configuration = CommandConfiguration(abstract: "GET and POST latency over a window (e.g. while a retention sweep runs).")
    @OptionGroup var server: ServerOptions
    @Option(help: "Seconds of load") var seconds = 30.0
    @Option(help: "GET clients") var clients = 4
    @Option(help: "File with one request path per line") var paths: String
    @Option(help: "Milliseconds between POSTs") var postIntervalMs = 5
    @Option(help: "Milliseconds between a client's GETs") var getIntervalMs = 1
    @Option(help: "A path the sweep should purge during the window") var gone: String?

    func measure() throws -> ResultObject {
        let (host, port, clients, postInterval, getInterval) = (server.host, server.port, clients, postIntervalMs, getIntervalMs)
        let targets = try String(contentsOfFile: paths, encoding: .utf8).split(separator: "\n").map(String.init)
        guard !targets.isEmpty else { throw LoadError(paths, "no paths") }
        let control = JobsClient(host: host, port: port)
        let goneBefore = try gone.map { try control.call("GET", $0).status }
        let deadline = Clock.deadline(afterSeconds: seconds)
        let threads = runThreads(clients + 1) { i in
            let client = JobsClient(host: host, port: port)
            var tally = Tally()
            var next = i * 7919
            while Clock.now() < deadline {
                do {
                    let t0 = Clock.now()
                    let status = i == clients ? try client.submit(["true"]).status : try client.call("GET", targets[next % targets.count]).status
                    if status == (i == clients ? 201 : 200) { tally.latencies.add(Clock.now() - t0) } else { tally.otherStatus += 1 }
                    next += 1
                } catch {
                    tally.fail(error)
                }
                Clock.sleep(milliseconds: i == clients ? postInterval : getInterval)
            }
            return tally
        }
        let gets = Tally.merged(Array(threads.prefix(clients))), posts = threads[clients]
        var result = ResultObject()
        gets.latencies.summarise("get", into: &result)
        posts.latencies.summarise("post", into: &result)
        result.set("other_status", gets.otherStatus + posts.otherStatus)
        result.set("errors", gets.errors + posts.errors)
        if let first = gets.firstError ?? posts.firstError { result.set("first_error", first) }
        if let gone, let goneBefore {
            let after = try control.call("GET", gone).status
            result.set("swept_in_window", goneBefore == 200 && after == 404 ? 1 : 0)
        }
        return result
    }
}
