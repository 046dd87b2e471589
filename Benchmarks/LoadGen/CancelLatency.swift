import ArgumentParser

/// Measure 5: cancel latency, one job at a time. The job is `sleep 60` (dies on SIGTERM, no
/// cleanup hook); once it is `running`, the time of `DELETE /v1/jobs/{id}?wait=10` from sending
/// to the answer, which comes when the job is terminal.
struct CancelLatency: Measure {
    static let configuration = CommandConfiguration(abstract: "DELETE?wait -> terminal round trip, p50/p99.")
    @OptionGroup var server: ServerOptions
    @Option(help: "Jobs to cancel, one after the other") var count = 200

    func measure() throws -> ResultObject {
        let client = JobsClient(host: server.host, port: server.port)
        var latencies = Samples()
        var notCancelled = 0
        for _ in 0..<count {
            let (status, job) = try client.submit(["sleep", "60"])
            guard status == 201, let id = job?["id"]?.text else { throw LoadError("POST /v1/jobs", "status \(status)") }
            let runningBy = Clock.deadline(afterSeconds: 10)
            while try client.job(id)["state"]?.text != "running" {
                guard Clock.now() < runningBy else { throw LoadError("job \(id)", "not running after 10 s") }
                Clock.sleep(milliseconds: 1)
            }
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
}
