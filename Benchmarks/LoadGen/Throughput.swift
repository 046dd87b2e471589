import ArgumentParser

/// Measure 2: each client POSTs `{"command":["true"]}` and long-polls the job to a terminal
/// state, then starts the next; jobs completed per second over the whole run.
struct Throughput: Measure {
    static let configuration = CommandConfiguration(abstract: "Jobs completed per second (POST true, long-poll to terminal).")
    @OptionGroup var server: ServerOptions
    @Option(help: "Concurrent clients") var clients = 64
    @Option(help: "Seconds of load; jobs in flight at the end are waited for") var seconds = 10.0

    func measure() throws -> ResultObject {
        let (host, port) = (server.host, server.port)
        let start = Clock.now()
        let deadline = Clock.deadline(afterSeconds: seconds)
        let tally = Tally.merged(runThreads(clients) { _ in
            let client = JobsClient(host: host, port: port)
            var tally = Tally()
            while Clock.now() < deadline {
                do {
                    let t0 = Clock.now()
                    let (status, job) = try client.submit(["true"])
                    guard status == 201, let id = job?["id"]?.text else {
                        tally.otherStatus += 1
                        continue
                    }
                    let state = try client.waitTerminal(id, deadline: deadline + 60_000_000_000)
                    guard terminalStates.contains(state) else { throw LoadError("wait", "job \(id) still \(state)") }
                    tally.done += 1
                    if state == "succeeded" { tally.good += 1 }
                    tally.latencies.add(Clock.now() - t0)
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
        result.set("completed", tally.done)
        result.set("succeeded", tally.good)
        result.set("per_second", Double(tally.done) / elapsed)
        result.set("other_status", tally.otherStatus)
        tally.latencies.summarise("job_round_trip", into: &result)
        tally.record(errorsInto: &result)
        return result
    }
}
