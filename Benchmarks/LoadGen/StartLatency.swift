import ArgumentParser
import JobsdAPI

/// Measure 4: start latency on an idle server, one job at a time. The job is
/// `spawnloop stamp`, which prints CLOCK_MONOTONIC as its main() begins; the latency is that
/// stamp minus the moment just before the POST was sent — the same clock and the same program as
/// the reference (`spawnloop startlat`), so only jobsd's own overhead differs. The server's
/// `started_at - created_at` (millisecond precision) is reported beside it.
struct StartLatency: Measure {
    static let configuration = CommandConfiguration(abstract: "POST -> job's process running, p50/p99 (idle server).")
    @OptionGroup var server: ServerOptions
    @Option(help: "Jobs to start, one after the other") var count = 200
    @Option(help: "Path of the spawnloop binary (its `stamp` mode is the job)") var stamp: String

    func measure() throws -> ResultObject {
        let client = JobsClient(host: server.host, port: server.port)
        var startLatency = Samples(), postRoundTrip = Samples(), serverSide = Samples()
        for _ in 0..<count {
            let t0 = Clock.now()
            let (status, job) = try client.submit([stamp, "stamp"])
            postRoundTrip.add(Clock.now() - t0)
            guard status == 201, let id = job?["id"]?.text else { throw LoadError("POST /v1/jobs", "status \(status)") }
            let state = try client.waitTerminal(id, deadline: Clock.deadline(afterSeconds: 30))
            guard state == "succeeded" else { throw LoadError("job \(id)", "ended \(state)") }
            let done = try client.job(id)
            if let created = done["created_at"]?.text.flatMap(Timestamp.init(rfc3339:)),
               let started = done["started_at"]?.text.flatMap(Timestamp.init(rfc3339:)) {
                serverSide.add((started.milliseconds - created.milliseconds) * 1_000_000)
            }
            startLatency.add(try client.stamp(of: id) - t0)
            Clock.sleep(milliseconds: 2)  // let the server go idle again
        }
        var result = ResultObject()
        startLatency.summarise("start", into: &result)
        postRoundTrip.summarise("post_round_trip", into: &result)
        serverSide.summarise("server_started_minus_created", into: &result)
        return result
    }
}
