import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// Health, readiness, metrics, auth and the graceful drain.
@Suite struct OperationsTests {
    @Test func withAToken_EveryRouteButHealthNeedsIt() async throws {
        try await TestServer.with({ $0.token = "s3cret" }) { server in
            let anonymous = JobsdClient(baseURL: server.baseURL).transport
            for path in ["/v1/jobs", "/v1/jobs/01JDQ6W6X7Z8K9M0N1P2Q3R4S5", "/metrics", "/openapi.yaml", "/nope"] {
                let response = try await anonymous.send(ClientRequest(path: path))
                #expect(response.status == 401, "\(path)")
                #expect(response.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            }
            let wrong = JobsdClient(baseURL: server.baseURL, token: "s3cres").transport
            #expect(try await wrong.send(ClientRequest(path: "/v1/jobs")).status == 401)
            #expect(try await anonymous.send(ClientRequest(path: "/healthz")).status == 200)
            #expect(try await anonymous.send(ClientRequest(path: "/readyz")).status == 200)
            let authorized = server.client(token: "s3cret")
            #expect(try await authorized.transport.send(ClientRequest(path: "/v1/jobs")).status == 200)
            let job = try await authorized.submit(JobSpec(command: ["true"]))
            #expect(try await authorized.wait(job.id).state == .succeeded)
        }
    }

    @Test func aNonLoopbackBindWithoutAToken_GeneratesOne() async throws {
        try await TestServer.with({ $0.http.host = "0.0.0.0" }) { server in
            let token = try #require(server.token)
            #expect(token.count >= 32)
            let anonymous = JobsdClient(baseURL: server.baseURL).transport
            #expect(try await anonymous.send(ClientRequest(path: "/v1/jobs")).status == 401)
            #expect(try await server.client().transport.send(ClientRequest(path: "/v1/jobs")).status == 200)
        }
    }

    @Test func metrics_AreValidPrometheusText_AndMoveWhenJobsRun() async throws {
        try await TestServer.with { server in
            let before = try await scrape(server)
            let job = try await server.submit(JobSpec(command: ["true"]))
            _ = try await server.client().wait(job.id)
            let after = try await scrape(server)
            #expect((after["jobsd_jobs_submitted_total"] ?? 0) == (before["jobsd_jobs_submitted_total"] ?? 0) + 1)
            #expect((after[#"jobsd_jobs_finished_total{state="succeeded"}"#] ?? 0) >= 1)
            #expect((after["jobsd_job_duration_seconds_count"] ?? 0) >= 1)
            #expect((after["jobsd_job_queue_wait_seconds_count"] ?? 0) >= 1)
            #expect(after.keys.contains { $0.hasPrefix("jobsd_http_requests_total{") && $0.contains(#"route="/v1/jobs/{id}""#) })
            for name in ["jobsd_jobs", "jobsd_cancel_latency_seconds", "jobsd_http_request_duration_seconds",
                         "jobsd_http_connections_open", "jobsd_escaped_processes_killed_total", "jobsd_abandoned_tasks_total"] {
                #expect(after.keys.contains { $0 == name || $0.hasPrefix(name + "{") || $0.hasPrefix(name + "_") }, "\(name)")
            }
        }
    }

    @Test func durationHistograms_HaveRealSums_AfterRealCancels() async throws {
        try await TestServer.with({ $0.engine.maxRunning = 1 }) { server in
            let client = server.client()
            let running = try await client.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 60"], graceSeconds: 5))
            let queued = try await client.submit(JobSpec(command: ["sleep", "60"]))
            try await server.waitForOutput(running.id, containing: "ready")
            #expect(try await client.cancel(queued.id).state == .cancelled)
            _ = try await client.cancel(running.id)
            #expect(try await client.wait(running.id).state == .cancelled)
            let metrics = try await scrape(server)
            // A cancel takes well under a millisecond to a few seconds; never 0, never minutes.
            let cancels = try #require(metrics["jobsd_cancel_latency_seconds_count"])
            let cancelSum = try #require(metrics["jobsd_cancel_latency_seconds_sum"])
            #expect(cancels == 2)
            #expect(cancelSum > 0 && cancelSum / cancels < 30)
            for name in ["jobsd_job_duration_seconds", "jobsd_job_queue_wait_seconds"] {
                let count = try #require(metrics[name + "_count"], "\(name)")
                let sum = try #require(metrics[name + "_sum"], "\(name)")
                #expect(count >= 1 && sum > 0 && sum / count < 60, "\(name): \(sum) / \(count)")
            }
            let http = metrics.filter { $0.key.hasPrefix("jobsd_http_request_duration_seconds_sum") }.values.reduce(0, +)
            #expect(http > 0)
        }
    }

    @Test func aRequestTheServerRefusesItself_CountsTheTimeItTook_NotZero() async throws {
        try await TestServer.with { server in
            let connection = try BlockingConnection(port: server.port)
            try connection.send("GET /v1/jobs HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")
            #expect(try connection.readResponse().status == 400)
            let metrics = try await scrape(server)
            let count = try #require(metrics[#"jobsd_http_request_duration_seconds_count{route="unmatched"}"#])
            let sum = try #require(metrics[#"jobsd_http_request_duration_seconds_sum{route="unmatched"}"#])
            #expect(count == 1 && sum > 0 && sum < 60, "\(sum) / \(count)")
        }
    }

    @Test func theSpec_IsServed() async throws {
        try await TestServer.with { server in
            let response = try await server.send("GET", "/openapi.yaml")
            #expect(response.status == 200)
            #expect(response.text.hasPrefix("openapi: 3.1"))
            #expect(response.text.contains("/v1/jobs/{id}/logs"))
        }
    }

    @Test func duringTheDrain_ReadsAndDeletesWork_PostsAre503_ReadyzFlips_AndLongJobsEndCancelled() async throws {
        let scratch = try scratchDirectory()
        try await TestServer.with({ $0.engine.shutdownTimeout = 5; $0.engine.maxRunning = 2 }) { server in
            let client = server.client()
            // Finishes on its own once the test lets it (a file appears), well within the drain.
            let quick = try await client.submit(JobSpec(command: ["sh", "-c", "echo ready; while [ ! -e \(scratch)/go ]; do sleep 0.02; done"]))
            let long = try await client.submit(JobSpec(
                command: ["sh", "-c", "echo ready; exec sleep 60"], graceSeconds: 1,
                cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE > \(scratch)/state"])))
            let deletable = try await client.submit(JobSpec(command: ["sh", "-c", "sleep 60"]))
            try await server.waitForOutput(quick.id, containing: "ready")
            try await server.waitForOutput(long.id, containing: "ready")
            #expect(try await server.send("GET", "/readyz").status == 200)
            server.server.beginShutdown()
            #expect(try await server.send("GET", "/readyz").status == 503)
            let refused = try await server.send("POST", "/v1/jobs", body: #"{"command":["true"]}"#)
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") != nil)
            #expect(try await server.send("GET", "/v1/jobs/\(long.id)").status == 200)
            #expect(try await client.job(deletable.id).state == .queued)
            _ = FileManager.default.createFile(atPath: "\(scratch)/go", contents: nil)
            #expect(try await client.wait(quick.id).state == .succeeded)
            #expect(try await server.send("DELETE", "/v1/jobs/\(deletable.id)").status == 200)
            let ended = try await client.wait(long.id)
            #expect(ended.state == .cancelled)
            #expect(ended.cleanup.state == .done)
            #expect(try String(contentsOfFile: "\(scratch)/state", encoding: .utf8) == "cancelled\n")
            #expect(processesAlive(markedWith: long.id).isEmpty)
        }
    }
}

/// `/metrics` as a map from series (name plus labels) to value; fails on lines that are not
/// Prometheus text.
func scrape(_ server: TestServer) async throws -> [String: Double] {
    let response = try await server.send("GET", "/metrics")
    #expect(response.status == 200)
    #expect(response.header("Content-Type")?.hasPrefix("text/plain") == true)
    var series: [String: Double] = [:]
    var typed = Set<String>()
    for line in response.text.split(separator: "\n") {
        if line.hasPrefix("# HELP ") { continue }
        if line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            #expect(parts.count == 4 && ["counter", "gauge", "histogram"].contains(String(parts[3])), "\(line)")
            typed.insert(String(parts[2]))
            continue
        }
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
            Issue.record("not a sample line: \(line)")
            continue
        }
        let key = String(line[..<space])
        let name = String(key.prefix { $0 != "{" })
        #expect(typed.contains(name) || typed.contains { name.hasPrefix($0 + "_") }, "\(name) has no # TYPE")
        series[key] = value
    }
    return series
}
