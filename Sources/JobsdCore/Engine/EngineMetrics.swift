import JobsdAPI
import JobsdMetrics

/// The engine's Prometheus series (names are part of the contract).
struct EngineMetrics: Sendable {
    let jobs: [JobState: Gauge]
    let submitted: Counter
    let finished: [JobState: Counter]
    let duration: Histogram
    let queueWait: Histogram
    let cancelLatency: Histogram
    let escapedKilled: Counter
    let abandoned: Counter
    let leaseRenewals: Counter
    let rescued: Counter
    let oomKilled: Counter
    let cpuLimitStopped: Counter

    init(_ r: MetricsRegistry) {
        var jobs: [JobState: Gauge] = [:]
        var finished: [JobState: Counter] = [:]
        for state in JobState.allCases {
            jobs[state] = r.gauge(
                "jobsd_jobs", help: "Jobs per state (terminal states: finished since this jobsd started).",
                labels: [("state", state.rawValue)])
        }
        for state in JobState.allCases where state.isTerminal {
            finished[state] = r.counter(
                "jobsd_jobs_finished_total", help: "Jobs that reached a terminal state.", labels: [("state", state.rawValue)])
        }
        self.jobs = jobs
        self.finished = finished
        submitted = r.counter("jobsd_jobs_submitted_total", help: "Jobs accepted by POST /v1/jobs.")
        duration = r.histogram(
            "jobsd_job_duration_seconds", help: "Time from a job's start to its terminal state.",
            buckets: Histogram.durationBuckets)
        queueWait = r.histogram(
            "jobsd_job_queue_wait_seconds", help: "Time from a job's creation to its start.", buckets: Histogram.durationBuckets)
        cancelLatency = r.histogram(
            "jobsd_cancel_latency_seconds", help: "Time from a cancel request to the job's terminal state.",
            buckets: Histogram.durationBuckets)
        escapedKilled = r.counter(
            "jobsd_escaped_processes_killed_total",
            help: "Processes of jobs that had left the job's process group (setsid, double fork) and were killed.")
        abandoned = r.counter(
            "jobsd_abandoned_tasks_total",
            help: "In-process jobs that ignored cancellation and were reported cancelled while still running.")
        leaseRenewals = r.counter(
            "jobsd_node_lease_renewals_total", help: "Heartbeats that renewed this node's lease (several nodes on PostgreSQL).")
        rescued = r.counter(
            "jobsd_jobs_rescued_total",
            help: "Jobs of silent nodes this node rescued: failed as interrupted, or queued again when not started.")
        oomKilled = r.counter(
            "jobsd_jobs_oom_killed_total", help: "Jobs in which the kernel's OOM killer killed a process (memory_bytes limit reached).")
        cpuLimitStopped = r.counter(
            "jobsd_jobs_cpu_limit_stopped_total", help: "Jobs whose main process the kernel stopped at its cpu_seconds limit (SIGXCPU).")
    }

    /// A job moved from `old` (nil: new) to `new` (nil: forgotten).
    func moved(from old: JobState?, to new: JobState?) {
        if let old { jobs[old]?.add(-1) }
        if let new { jobs[new]?.add(1) }
    }
}
