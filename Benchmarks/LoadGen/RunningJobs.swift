import ArgumentParser

/// Measure 7: jobsd's resident memory with N running `sleep 600` jobs. Submits them, waits until
/// every one is `running`, reads the RSS after a settling second, then cancels them all
/// (DELETE?wait) so nothing is left behind.
struct RunningJobs: Measure {
    static let configuration = CommandConfiguration(abstract: "jobsd's RSS with N running sleep jobs; cancels them after.")
    @OptionGroup var server: ServerOptions
    @Option(help: "Jobs to run at once (jobsd needs --max-running at least this)") var count = 1000
    @Option(help: "Concurrent clients submitting and cancelling") var clients = 32
    @Option(help: "jobsd's process id (for /proc/<pid>/status)") var pid: Int32

    func measure() throws -> ResultObject {
        let (host, port, count, clients) = (server.host, server.port, count, clients)
        let before = try ProcStatus(pid: pid)
        let start = Clock.now()
        let runningBy = Clock.deadline(afterSeconds: 120)
        let started = Tally.merged(runThreads(clients) { i in
            let client = JobsClient(host: host, port: port)
            var tally = Tally()
            for _ in stride(from: i, to: count, by: clients) {
                do {
                    let (status, job) = try client.submit(["sleep", "600"])
                    if status == 201, let id = job?["id"]?.text { tally.ids.append(id) } else { tally.otherStatus += 1 }
                } catch { tally.fail(error) }
            }
            for id in tally.ids {
                do {
                    while try client.job(id)["state"]?.text != "running" {
                        guard Clock.now() < runningBy else { throw LoadError("job \(id)", "not running after 120 s") }
                        Clock.sleep(milliseconds: 10)
                    }
                    tally.done += 1
                } catch { tally.fail(error) }
            }
            return tally
        })
        let startSeconds = Double(Clock.now() - start) / 1e9
        Clock.sleep(milliseconds: 1000)
        let during = try ProcStatus(pid: pid)
        let ids = started.ids
        let cancelStart = Clock.now()
        let cancelled = Tally.merged(runThreads(clients) { i in
            let client = JobsClient(host: host, port: port)
            var tally = Tally()
            for index in stride(from: i, to: ids.count, by: clients) {
                do {
                    let answer = try client.call("DELETE", "/v1/jobs/\(ids[index])?wait=30")
                    if try answer.json()["state"]?.text == "cancelled" { tally.done += 1 } else { tally.otherStatus += 1 }
                } catch { tally.fail(error) }
            }
            return tally
        })
        var result = ResultObject()
        result.set("requested", count)
        result.set("submitted", ids.count)
        result.set("running", started.done)
        result.set("start_all_seconds", startSeconds)
        result.set("rss_before_mb", Double(before.rssKiB) / 1024)
        result.set("rss_mb", Double(during.rssKiB) / 1024)
        result.set("peak_rss_mb", Double(during.peakKiB) / 1024)
        result.set("kb_per_job", ids.isEmpty ? nil : Double(during.rssKiB - before.rssKiB) / Double(ids.count))
        result.set("cancelled", cancelled.done)
        result.set("cancel_all_seconds", Double(Clock.now() - cancelStart) / 1e9)
        Tally.merged([started, cancelled]).record(errorsInto: &result)
        return result
    }
}
