import ArgumentParser

/// Measure 5: cancel latency, one job at a time. The job is `sleep 60` (dies on SIGTERM, no
/// cleanup hook); once it is `running`, the time of `DELETE /v1/jobs/{id}?wait=10` from sending
/// to the answer, which comes when the job is terminal.
///
/// `--escaped`: the job also starts a descendant that left its process group
/// (`setsid sleep 60`), so the signal ladder must SIGTERM it separately and wait for the whole
/// tree (its cgroup's `populated 0`) after the main process is gone. The DELETE goes 20 ms after
/// the job said it started it: past the 10 ms in which the kernel holds back a cgroup's next
/// `cgroup.events` notification after the one for the job's start.
struct CancelLatency: Measure {
    static let configuration = CommandConfiguration(abstract: "DELETE?wait -> terminal round trip, p50/p99.")
    @OptionGroup var server: ServerOptions
    @Option(help: "Jobs to cancel, one after the other") var count = 200
    @Flag(help: "Each job has a descendant outside its process group (setsid)") var escaped = false

    func measure() throws -> ResultObject {
        let client = JobsClient(host: server.host, port: server.port)
        var latencies = Samples()
        var notCancelled = 0
        let command = escaped ? ["sh", "-c", "setsid sleep 60 & echo started; exec sleep 60"] : ["sleep", "60"]
        for _ in 0..<count {
            let (status, job) = try client.submit(command)
            guard status == 201, let id = job?["id"]?.text else { throw LoadError("POST /v1/jobs", "status \(status)") }
            let runningBy = Clock.deadline(afterSeconds: 10)
            while try !isReady(client, id) {
                guard Clock.now() < runningBy else { throw LoadError("job \(id)", "not running after 10 s") }
                Clock.sleep(milliseconds: 1)
            }
            if escaped { Clock.sleep(milliseconds: 20) }
            let t0 = Clock.now()
            let answer = try client.call("DELETE", "/v1/jobs/\(id)?wait=10")
            let elapsed = Clock.now() - t0
            guard answer.status == 200 || answer.status == 202 else { throw LoadError("DELETE \(id)", "status \(answer.status)") }
            if try answer.json()["state"]?.text == "cancelled" { latencies.add(elapsed) } else { notCancelled += 1 }
        }
        var result = ResultObject()
        latencies.summarise("cancel", into: &result)
        result.set("not_cancelled", notCancelled)
        return result
    }

    /// `running`, and with `escaped` its output says the descendant was started.
    private func isReady(_ client: JobsClient, _ id: String) throws(LoadError) -> Bool {
        guard escaped else { return try client.job(id)["state"]?.text == "running" }
        let logs = try client.call("GET", "/v1/jobs/\(id)/logs")
        return logs.status == 200 && String(decoding: logs.body, as: UTF8.self).contains("started")
    }
}
