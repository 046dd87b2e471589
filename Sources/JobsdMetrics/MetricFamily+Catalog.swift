// MARK: - Every family jobsd emits (README "Metrics" lists them for users)

extension MetricFamily {
    /// Buckets of the job duration histograms, 1 ms … 1 h.
    public static let jobDurationBuckets: [Double] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
    ]
    /// Buckets of the HTTP request duration histogram, 100 µs … 60 s.
    public static let requestDurationBuckets: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60,
    ]

    // The engine's.
    /// Gauge, label `state`.
    public static let jobs = MetricFamily(
        "jobsd_jobs", help: "Jobs per state (terminal states: finished since this jobsd started).")
    public static let jobsSubmitted = MetricFamily("jobsd_jobs_submitted_total", help: "Jobs accepted by POST /v1/jobs.")
    /// Counter, label `state`.
    public static let jobsFinished = MetricFamily("jobsd_jobs_finished_total", help: "Jobs that reached a terminal state.")
    public static let jobDuration = MetricFamily(
        "jobsd_job_duration_seconds", help: "Time from a job's start to its terminal state.", buckets: jobDurationBuckets)
    public static let jobQueueWait = MetricFamily(
        "jobsd_job_queue_wait_seconds", help: "Time from a job's creation to its start.", buckets: jobDurationBuckets)
    public static let cancelLatency = MetricFamily(
        "jobsd_cancel_latency_seconds", help: "Time from a cancel request to the job's terminal state.", buckets: jobDurationBuckets)
    public static let escapedProcessesKilled = MetricFamily(
        "jobsd_escaped_processes_killed_total",
        help: "Processes of jobs that had left the job's process group (setsid, double fork) and were killed.")
    public static let abandonedTasks = MetricFamily(
        "jobsd_abandoned_tasks_total",
        help: "In-process jobs that ignored cancellation and were reported cancelled while still running.")
    public static let leaseRenewals = MetricFamily(
        "jobsd_node_lease_renewals_total", help: "Heartbeats that renewed this node's lease (several nodes on PostgreSQL).")
    public static let jobsRescued = MetricFamily(
        "jobsd_jobs_rescued_total",
        help: "Jobs of silent nodes this node rescued: failed as interrupted, or queued again when not started.")
    public static let jobsOOMKilled = MetricFamily(
        "jobsd_jobs_oom_killed_total", help: "Jobs in which the kernel's OOM killer killed a process (memory_bytes limit reached).")
    public static let jobsCPULimitStopped = MetricFamily(
        "jobsd_jobs_cpu_limit_stopped_total", help: "Jobs whose main process the kernel stopped at its cpu_seconds limit (SIGXCPU).")
    /// Gauge (always 1), label `method`.
    public static let containment = MetricFamily(
        "jobsd_containment_info",
        help: "How jobs' processes are contained: cgroup (a cgroup v2 per job) or proc (a per-job subreaper).")
    public static let storeWriteErrors = MetricFamily(
        "jobsd_store_write_errors_total", help: "Writes the job store refused (disk full, I/O error, lost database).")
    public static let storeWritesPending = MetricFamily(
        "jobsd_store_writes_pending",
        help: "Job outcomes and records that happened but are not stored yet; retried until the store takes them.")

    // The completion webhooks'.
    /// Counter, label `outcome`: `delivered` (a 2xx answer) or `failed`.
    public static let webhookAttempts = MetricFamily("jobsd_webhook_attempts_total", help: "Completion webhook attempts, by outcome.")
    /// Counter, label `outcome`: `delivered`, or `failed` after `--webhook-max-attempts`.
    public static let webhookDeliveries = MetricFamily(
        "jobsd_webhook_deliveries_total", help: "Completion webhooks whose delivery ended, by outcome.")
    public static let webhookAttemptDuration = MetricFamily(
        "jobsd_webhook_attempt_duration_seconds", help: "Time one completion webhook attempt took, answer or not.",
        buckets: jobDurationBuckets)

    // The HTTP server's.
    /// Counter, labels `method`, `route` (the pattern), `status`.
    public static let httpRequests = MetricFamily(
        "jobsd_http_requests_total", help: "HTTP requests answered, by method, route pattern and status.")
    /// Histogram, label `route`.
    public static let httpRequestDuration = MetricFamily(
        "jobsd_http_request_duration_seconds", help: "Time from a request's arrival to its answer being written.",
        buckets: requestDurationBuckets)
    public static let httpConnectionsOpen = MetricFamily("jobsd_http_connections_open", help: "HTTP connections currently open.")

    /// Every family above.
    public static let all: [MetricFamily] = [
        jobs, jobsSubmitted, jobsFinished, jobDuration, jobQueueWait, cancelLatency, escapedProcessesKilled, abandonedTasks,
        leaseRenewals, jobsRescued, jobsOOMKilled, jobsCPULimitStopped, containment, storeWriteErrors, storeWritesPending,
        webhookAttempts, webhookDeliveries, webhookAttemptDuration,
        httpRequests, httpRequestDuration, httpConnectionsOpen,
    ]

    private static let byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The family called `name`, or nil for a name jobsd does not emit (another library's).
    public static func named(_ name: String) -> MetricFamily? { byName[name] }
}
