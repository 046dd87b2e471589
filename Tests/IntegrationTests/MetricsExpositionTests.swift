import JobsdAPI
import JobsdMetrics
import JobsdTesting
import Testing

/// The shape of `/metrics` (families, types, HELP texts, label sets, bucket bounds) is what
/// dashboards and alerts are written against: it is pinned here, taken from the hand-written
/// registry before the move to swift-metrics and swift-prometheus, and must not drift.
@Suite struct MetricsExpositionTests {
    @Test func metrics_ShowTheSameFamiliesLabelsAndBuckets_AsTheHandWrittenRegistryDid() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(command: ["true"]))
            _ = try await server.client().wait(job.id)
            #expect(try await server.send("GET", "/nope").status == 404)
            _ = try await server.send("GET", "/metrics")  // so that the next scrape shows its own series
            let response = try await server.send("GET", "/metrics")
            #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            let canonical = PrometheusExposition(response.text).canonical(ignoringValuesOf: ["jobsd_containment_info"])
            let missing = Self.expected.filter { !canonical.contains($0) }, extra = canonical.filter { !Self.expected.contains($0) }
            #expect(missing.isEmpty && extra.isEmpty, "missing:\n\(missing.joined(separator: "\n"))\nextra:\n\(extra.joined(separator: "\n"))")
        }
    }

    @Test func metrics_ListFamiliesInTheCataloguesOrder_AndWriteIntegralNumbersAsIntegers() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(command: ["true"]))
            _ = try await server.client().wait(job.id)
            let text = try await server.send("GET", "/metrics").text
            let lines = text.split(separator: "\n")
            let shown = lines.filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) }
            #expect(shown == MetricFamily.all.map(\.name).filter(shown.contains), "order: \(shown)")
            #expect(lines.contains(#"jobsd_cancel_latency_seconds_bucket{le="1"} 0"#), "integral bound as an integer")
            #expect(lines.contains(#"jobsd_jobs{state="succeeded"} 1"#), "integral gauge value as an integer")
            #expect(lines.contains(#"jobsd_http_request_duration_seconds_bucket{route="/v1/jobs",le="0.00025"} 0"#)
                || lines.contains { $0.hasPrefix(#"jobsd_http_request_duration_seconds_bucket{route="/v1/jobs",le="0.00025"} "#) })
            let floats = lines.filter { !$0.hasPrefix("#") && ($0.hasSuffix(".0") || $0.contains(".0\"}")) }
            #expect(floats.isEmpty, "\(floats)")
        }
    }

    @Test func twoServersInOneProcess_CountTheirOwnMetrics() async throws {
        try await TestServer.with { first in
            try await TestServer.with { second in
                let job = try await first.submit(JobSpec(command: ["true"]))
                _ = try await first.client().wait(job.id)
                #expect(try await scrape(first)["jobsd_jobs_submitted_total"] == 1)
                #expect(try await scrape(second)["jobsd_jobs_submitted_total"] == 0)
            }
        }
    }

    /// Taken from the hand-written registry's output (commit 046fc8c) for the requests above, plus
    /// the resource-limit counters and the completion webhooks' families (issue 15) added since.
    static let expected: [String] = [
        "jobsd_abandoned_tasks_total counter | In-process jobs that ignored cancellation and were reported cancelled while still running.",
        "jobsd_abandoned_tasks_total{}",
        "jobsd_cancel_latency_seconds histogram le=0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1.0,2.5,5.0,10.0,30.0,60.0,300.0,900.0,3600.0 | Time from a cancel request to the job's terminal state.",
        "jobsd_cancel_latency_seconds{}",
        "jobsd_containment_info gauge | How jobs' processes are contained: cgroup (a cgroup v2 per job) or proc (a per-job subreaper).",
        "jobsd_containment_info{method=*}",
        "jobsd_escaped_processes_killed_total counter | Processes of jobs that had left the job's process group (setsid, double fork) and were killed.",
        "jobsd_escaped_processes_killed_total{}",
        "jobsd_http_connections_open gauge | HTTP connections currently open.",
        "jobsd_http_connections_open{}",
        "jobsd_http_request_duration_seconds histogram le=0.0001,0.00025,0.0005,0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1.0,5.0,30.0,60.0 | Time from a request's arrival to its answer being written.",
        #"jobsd_http_request_duration_seconds{route="/metrics"}"#,
        #"jobsd_http_request_duration_seconds{route="/v1/jobs"}"#,
        #"jobsd_http_request_duration_seconds{route="/v1/jobs/{id}"}"#,
        #"jobsd_http_request_duration_seconds{route="unmatched"}"#,
        "jobsd_http_requests_total counter | HTTP requests answered, by method, route pattern and status.",
        #"jobsd_http_requests_total{method="GET",route="/metrics",status="200"}"#,
        #"jobsd_http_requests_total{method="GET",route="/v1/jobs/{id}",status="200"}"#,
        #"jobsd_http_requests_total{method="GET",route="unmatched",status="404"}"#,
        #"jobsd_http_requests_total{method="POST",route="/v1/jobs",status="201"}"#,
        "jobsd_job_duration_seconds histogram le=0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1.0,2.5,5.0,10.0,30.0,60.0,300.0,900.0,3600.0 | Time from a job's start to its terminal state.",
        "jobsd_job_duration_seconds{}",
        "jobsd_job_queue_wait_seconds histogram le=0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1.0,2.5,5.0,10.0,30.0,60.0,300.0,900.0,3600.0 | Time from a job's creation to its start.",
        "jobsd_job_queue_wait_seconds{}",
        "jobsd_jobs gauge | Jobs per state (terminal states: finished since this jobsd started).",
        "jobsd_jobs_finished_total counter | Jobs that reached a terminal state.",
        #"jobsd_jobs_finished_total{state="cancelled"}"#,
        #"jobsd_jobs_finished_total{state="failed"}"#,
        #"jobsd_jobs_finished_total{state="succeeded"}"#,
        #"jobsd_jobs_finished_total{state="timed_out"}"#,
        "jobsd_jobs_cpu_limit_stopped_total counter | Jobs whose main process the kernel stopped at its cpu_seconds limit (SIGXCPU).",
        "jobsd_jobs_cpu_limit_stopped_total{}",
        "jobsd_jobs_oom_killed_total counter | Jobs in which the kernel's OOM killer killed a process (memory_bytes limit reached).",
        "jobsd_jobs_oom_killed_total{}",
        "jobsd_jobs_rescued_total counter | Jobs of silent nodes this node rescued: failed as interrupted, or queued again when not started.",
        "jobsd_jobs_rescued_total{}",
        "jobsd_jobs_submitted_total counter | Jobs accepted by POST /v1/jobs.",
        "jobsd_jobs_submitted_total{}",
        #"jobsd_jobs{state="cancelled"}"#,
        #"jobsd_jobs{state="cancelling"}"#,
        #"jobsd_jobs{state="failed"}"#,
        #"jobsd_jobs{state="queued"}"#,
        #"jobsd_jobs{state="running"}"#,
        #"jobsd_jobs{state="succeeded"}"#,
        #"jobsd_jobs{state="timed_out"}"#,
        "jobsd_node_lease_renewals_total counter | Heartbeats that renewed this node's lease (several nodes on PostgreSQL).",
        "jobsd_node_lease_renewals_total{}",
        "jobsd_store_write_errors_total counter | Writes the job store refused (disk full, I/O error, lost database).",
        "jobsd_store_write_errors_total{}",
        "jobsd_store_writes_pending gauge | Job outcomes and records that happened but are not stored yet; retried until the store takes them.",
        "jobsd_store_writes_pending{}",
        "jobsd_webhook_attempt_duration_seconds histogram le=0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1.0,2.5,5.0,10.0,30.0,60.0,300.0,900.0,3600.0 | Time one completion webhook attempt took, answer or not.",
        "jobsd_webhook_attempt_duration_seconds{}",
        "jobsd_webhook_attempts_total counter | Completion webhook attempts, by outcome.",
        #"jobsd_webhook_attempts_total{outcome="delivered"}"#,
        #"jobsd_webhook_attempts_total{outcome="failed"}"#,
        "jobsd_webhook_deliveries_total counter | Completion webhooks whose delivery ended, by outcome.",
        #"jobsd_webhook_deliveries_total{outcome="delivered"}"#,
        #"jobsd_webhook_deliveries_total{outcome="failed"}"#,
    ]
}
