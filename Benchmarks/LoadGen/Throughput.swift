import ArgumentParser

/// Measure 2: each client POSTs `{"command":["true"]}` and long-polls the job to a terminal
/// state, then starts the next; jobs completed per second over the whole run. With `--stamp`,
/// the job is `spawnloop stamp` instead (as cheap as `true`), and a client's 2nd job and every
/// `--sample-every`-th after it also read the stamp back: start latency (POST sent → the
/// process's main()) under this load, at the cost of one more GET per sampled job.
struct Throughput: Measure {
    static let configuration = CommandConfiguration(abstract: "Jobs completed per second (POST true, long-poll to terminal).")
    @OptionGroup var server: ServerOptions
    @Option(help: "Concurrent clients") var clients = 64
    @Option(help: "Seconds of load; jobs in flight at the end are waited for") var seconds = 10.0
    @Option(help: "Path of the spawnloop binary: run `spawnloop stamp` and sample start latency") var stamp: String?
    @Option(help: "With --stamp: read the stamp of every Nth job of each client") var sampleEvery = 8

    func measure() throws -> ResultObject {
        let (host, port, stamp, sampleEvery) = (server.host, server.port, stamp, max(1, sampleEvery))
        let command = stamp.map { [$0, "stamp"] } ?? ["true"]
        let start = Clock.now()
        let deadline = Clock.deadline(afterSeconds: seconds)
        let tallies = runThreads(clients) { _ in
            let client = JobsClient(host: host, port: port)
            var tally = Tally(), starts = Samples()
            while Clock.now() < deadline {
                do {
                    let t0 = Clock.now()
                    let (status, job) = try client.submit(command)
                    guard status == 201, let id = job?["id"]?.text else {
                        tally.otherStatus += 1
                        continue
                    }
                    let state = try client.waitTerminal(id, deadline: deadline + 60_000_000_000)
                    guard terminalStates.contains(state) else { throw LoadError("wait", "job \(id) still \(state)") }
                    tally.done += 1
                    if state == "succeeded" { tally.good += 1 }
                    tally.latencies.add(Clock.now() - t0)
                    // From the 2nd job on: every client samples even in a short run (quick mode at 256
                    // clients completes ~5 jobs a client), never the job that opened its connection.
                    if stamp != nil, tally.done >= 2, (tally.done - 2) % sampleEvery == 0 { starts.add(try client.stamp(of: id) - t0) }
                } catch {
                    tally.fail(error)
                    Clock.sleep(milliseconds: 1)
                }
            }
            return (tally, starts)
        }
        let elapsed = Double(Clock.now() - start) / 1e9
        let tally = Tally.merged(tallies.map(\.0))
        var result = ResultObject()
        result.set("clients", clients)
        result.set("seconds", elapsed)
        result.set("completed", tally.done)
        result.set("succeeded", tally.good)
        result.set("per_second", Double(tally.done) / elapsed)
        result.set("other_status", tally.otherStatus)
        tally.latencies.summarise("job_round_trip", into: &result)
        if stamp != nil { tallies.reduce(into: Samples()) { $0.add($1.1) }.summarise("start", into: &result) }
        tally.record(errorsInto: &result)
        return result
    }
}
