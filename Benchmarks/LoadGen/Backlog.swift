import ArgumentParser
import JobsdMetrics

/// Growth measure: a backlog of `jobs` queued `true` jobs drains at what rate, and how fast a
/// POST is answered meanwhile. `blockers` `sleep 600` jobs fill jobsd's running slots (start it
/// with `--max-running` equal to that), the backlog is submitted by `clients` threads (RSS read
/// with all of it queued), then the blockers are cancelled and the drain timed until the last
/// job queued is terminal (the queue is FIFO); one more thread POSTs a `true` job and lists the
/// newest 20 jobs (`GET /v1/jobs?limit=20`) every `probe-interval-ms` throughout the drain. Every backlog job is checked terminal afterwards.
struct Backlog: Measure {
    static let configuration = CommandConfiguration(abstract: "Drain rate of a queued backlog and POST latency while it drains.")
    @OptionGroup var server: ServerOptions
    @Option(help: "Queued jobs") var jobs = 100_000
    @Option(help: "Blocking jobs (jobsd's --max-running)") var blockers = 64
    @Option(help: "Concurrent clients submitting the backlog") var clients = 64
    @Option(help: "Milliseconds between the probe's POSTs during the drain") var probeIntervalMs = 10
    @Option(help: "jobsd's process id (for /proc/<pid>/status)") var pid: Int32

    func measure() throws -> ResultObject {
        let (host, port, jobs, clients) = (server.host, server.port, jobs, clients)
        let control = JobsClient(host: host, port: port)
        var blockerIDs: [String] = []
        for _ in 0..<blockers {
            let (status, job) = try control.submit(["sleep", "600"])
            guard status == 201, let id = job?["id"]?.text else { throw LoadError("POST blocker", "status \(status)") }
            blockerIDs.append(id)
        }
        let before = try ProcStatus(pid: pid)
        let submitStart = Clock.now()
        let submitted = Tally.merged(runThreads(clients) { i in
            let client = JobsClient(host: host, port: port)
            var tally = Tally()
            for _ in stride(from: i, to: jobs, by: clients) {
                do {
                    let (status, job) = try client.submit(["true"])
                    if status == 201, let id = job?["id"]?.text { tally.ids.append(id) } else { tally.otherStatus += 1 }
                } catch { tally.fail(error) }
            }
            return tally
        })
        let submitSeconds = Double(Clock.now() - submitStart) / 1e9
        let queued = try ProcStatus(pid: pid)
        guard let last = submitted.ids.max() else { throw LoadError("backlog", "no job accepted: \(submitted.firstError ?? "")") }

        let release = Clock.now()
        for id in blockerIDs { _ = try control.call("DELETE", "/v1/jobs/\(id)") }
        let drained = OneFlag()
        let probe = runThreads(2) { thread -> (Samples, Int64, String?, Samples) in
            let client = JobsClient(host: host, port: port)
            if thread == 0 {
                do {
                    let state = try client.waitTerminal(last, deadline: Clock.deadline(afterSeconds: 1800))
                    drained.set()
                    return (Samples(), Clock.now(), state == "succeeded" ? nil : "last job ended \(state)", Samples())
                } catch {
                    drained.set()
                    return (Samples(), Clock.now(), "\(error)", Samples())
                }
            }
            var posts = Samples(), lists = Samples()
            while !drained.isSet {
                let t0 = Clock.now()
                if (try? client.submit(["true"]).status) == 201 { posts.add(Clock.now() - t0) }
                let t1 = Clock.now()
                if (try? client.call("GET", "/v1/jobs?limit=20").status) == 200 { lists.add(Clock.now() - t1) }
                Clock.sleep(milliseconds: probeIntervalMs)
            }
            return (posts, 0, nil, lists)
        }
        if let failure = probe[0].2 { throw LoadError("drain", failure) }
        let drainSeconds = Double(probe[0].1 - release) / 1e9
        let drainedRSS = try ProcStatus(pid: pid)
        let ids = submitted.ids
        let unfinished = Tally.merged(runThreads(clients) { i in
            let client = JobsClient(host: host, port: port)
            var tally = Tally()
            for index in stride(from: i, to: ids.count, by: clients) {
                do {
                    if !terminalStates.contains(try client.job(ids[index], wait: 30)["state"]?.text ?? "") { tally.done += 1 }
                } catch { tally.fail(error) }
            }
            return tally
        })
        Clock.sleep(milliseconds: 5000)  // idle: jobsd gives the heap back after 2 s idle (EngineConfiguration.idleTrimDelay)
        let idle = try ProcStatus(pid: pid)
        var result = ResultObject()
        result.set("jobs", jobs)
        result.set("accepted", ids.count)
        result.set("other_status", submitted.otherStatus)
        result.set("errors", submitted.errors + unfinished.errors)
        if let first = submitted.firstError ?? unfinished.firstError { result.set("first_error", first) }
        result.set("submit_per_second", Double(ids.count) / submitSeconds)
        result.set("rss_before_mb", Double(before.rssKiB) / 1024)
        result.set("rss_queued_mb", Double(queued.rssKiB) / 1024)
        result.set("rss_drained_mb", Double(drainedRSS.rssKiB) / 1024)
        result.set("rss_idle_mb", Double(idle.rssKiB) / 1024)
        result.set("drain_seconds", drainSeconds)
        result.set("drain_per_second", Double(ids.count) / drainSeconds)
        result.set("not_terminal", unfinished.done)
        probe[1].0.summarise("post_during_drain", into: &result)
        probe[1].3.summarise("list_during_drain", into: &result)
        return result
    }
}

/// A flag one thread sets and others poll.
final class OneFlag: @unchecked Sendable {
    private let lock = PThreadLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
