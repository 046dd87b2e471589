import ArgumentParser

/// Measure 8: accepted POSTs per second with jobs left queued. With `--blocker`, one
/// `sleep 600` job is submitted first so that, with `--max-running 1`, every later job stays
/// queued (the server's shutdown cancels the blocker). Run once against the durable store and
/// once against `--store memory`.
struct SubmitRate: Measure {
    static let configuration = CommandConfiguration(abstract: "POST /v1/jobs per second at N clients, jobs left queued.")
    @OptionGroup var server: ServerOptions
    @Option(help: "Concurrent clients") var clients = 64
    @Option(help: "Seconds of load") var seconds = 10.0
    @Flag(help: "Submit a `sleep 600` job first to hold the only running slot") var blocker = false

    func measure() throws -> ResultObject {
        let (host, port) = (server.host, server.port)
        if blocker {
            let (status, _) = try JobsClient(host: host, port: port).submit(["sleep", "600"])
            guard status == 201 else { throw LoadError("POST blocker", "status \(status)") }
        }
        let start = Clock.now()
        let deadline = Clock.deadline(afterSeconds: seconds)
        let tally = Tally.merged(runThreads(clients) { _ in
            let client = JobsClient(host: host, port: port)
            var tally = Tally()
            while Clock.now() < deadline {
                do {
                    let t0 = Clock.now()
                    let response = try client.call("POST", "/v1/jobs", body: #"{"command":["true"]}"#)
                    if response.status == 201 {
                        tally.done += 1
                        tally.latencies.add(Clock.now() - t0)
                    } else {
                        tally.otherStatus += 1
                    }
                } catch {
                    tally.fail(error)
                    Clock.sleep(milliseconds: 1)
                }
            }
            return tally
        })
        let elapsed = Double(Clock.now() - start) / 1e9
        var result = ResultObject()
        result.set("clients", clients)
        result.set("seconds", elapsed)
        result.set("accepted", tally.done)
        result.set("per_second", Double(tally.done) / elapsed)
        result.set("other_status", tally.otherStatus)
        tally.latencies.summarise("post", into: &result)
        tally.record(errorsInto: &result)
        return result
    }
}
