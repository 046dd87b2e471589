import ArgumentParser

/// Measure 3: clients POST short jobs as fast as they can without waiting, against a small
/// queue; then every accepted job (201) is followed to a terminal state. The rest must have been
/// refused with 429. `completed_per_second` is the accepted jobs over the whole time (load and
/// drain): under a flood of `true` jobs it is the work the flood leaves the runner to do.
struct Overload: Measure {
    static let configuration = CommandConfiguration(abstract: "Completion ratio of accepted jobs under overload.")
    @OptionGroup var server: ServerOptions
    @Option(help: "Concurrent clients") var clients = 64
    @Option(help: "Seconds of load") var seconds = 10.0
    @Option(help: "The job's command, words separated by spaces") var command = "sleep 0.05"
    @Option(help: "Seconds allowed for the accepted jobs to finish after the load") var drainSeconds = 120.0

    func measure() throws -> ResultObject {
        let (host, port, command) = (server.host, server.port, command.split(separator: " ").map(String.init))
        let start = Clock.now()
        let deadline = Clock.deadline(afterSeconds: seconds)
        let sent = Tally.merged(runThreads(clients) { _ in
            let client = JobsClient(host: host, port: port)
            var tally = Tally()
            while Clock.now() < deadline {
                do {
                    let (status, job) = try client.submit(command)
                    tally.done += 1
                    switch status {
                    case 201: if let id = job?["id"]?.text { tally.ids.append(id) } else { tally.otherStatus += 1 }
                    case 429: tally.rejected += 1
                    default: tally.otherStatus += 1
                    }
                } catch {
                    tally.fail(error)
                    Clock.sleep(milliseconds: 1)
                }
            }
            return tally
        })
        let loadEnd = Clock.now()
        let ids = sent.ids
        let drainDeadline = Clock.deadline(afterSeconds: drainSeconds)
        let followed = Tally.merged(runThreads(clients) { i in
            let client = JobsClient(host: host, port: port)
            var tally = Tally()
            for index in stride(from: i, to: ids.count, by: clients) {
                do {
                    let state = try client.waitTerminal(ids[index], deadline: drainDeadline)
                    if terminalStates.contains(state) { tally.done += 1 }
                    if state == "succeeded" { tally.good += 1 }
                } catch {
                    tally.fail(error)
                }
            }
            return tally
        })
        var result = ResultObject()
        result.set("sent", sent.done)
        result.set("accepted", ids.count)
        result.set("rejected_429", sent.rejected)
        result.set("other_status", sent.otherStatus)
        result.set("errors", sent.errors + followed.errors)
        if let first = sent.firstError ?? followed.firstError { result.set("first_error", first) }
        result.set("terminal", followed.done)
        result.set("succeeded", followed.good)
        result.set("completion_ratio", ids.isEmpty ? nil : Double(followed.done) / Double(ids.count))
        result.set("drain_seconds", Double(Clock.now() - loadEnd) / 1e9)
        result.set("completed_per_second", Double(followed.done) / (Double(Clock.now() - start) / 1e9))
        result.set("rejected_per_second", Double(sent.rejected) / (Double(loadEnd - start) / 1e9))
        return result
    }
}
