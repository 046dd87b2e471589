import Foundation

/// Limits and defaults of a `JobEngine` (CONTRACT.md, "Running it"). Durations are seconds.
public struct EngineConfiguration: Sendable {
    /// Workdirs live in `<data>/work/<id>/` (ended pristine ones wait for reuse in
    /// `<data>/.spare-workdirs/`), logs in `<data>/logs/<id>/`.
    public var dataDirectory: String
    /// Jobs running at once (from start until terminal, cleanup included). Default: 4 × the
    /// active processor count.
    public var maxRunning: Int
    /// Jobs waiting in the queue (not counting running ones); beyond → `EngineError.queueFull`.
    public var queueLimit: Int = 10_000
    /// Deadline of a job without `timeout_seconds`, counted from its start.
    public var defaultTimeout: Double = 3600
    /// Upper bound of any deadline (the server rejects larger values; the engine caps).
    public var maxTimeout: Double = 86_400
    /// SIGTERM → SIGKILL delay of a job without `grace_seconds`.
    public var defaultGrace: Double = 10
    /// Output kept per job; older bytes are dropped past it.
    public var maxLogBytes: Int = 10 * 1024 * 1024
    /// How long finished jobs and their logs are kept.
    public var retention: Double = 7 * 86_400
    /// How often the retention sweep runs.
    public var sweepInterval: Double = 60
    /// Seconds the engine stays idle after work before it hands freed heap back (`HeapTrim`).
    public var idleTrimDelay: Double = 2
    /// Drain time for running jobs after `shutdown()` before they are cancelled.
    public var shutdownTimeout: Double = 25
    /// This node's name in a cluster (`--node-id`; unique per cluster). Default: the host name.
    public var nodeID: String = JobEngine.hostName()
    /// The URL this node serves on, shown in `GET /v1/nodes` (`--advertise-url`); nil: the server
    /// sets `http://<host>:<port>` once it listens.
    public var advertiseURL: String?
    /// How often a node on a shared store renews its lease (`--heartbeat`).
    public var heartbeat: Double = 2
    /// How long a node's lease lasts without renewal before other nodes rescue its jobs
    /// (`--node-timeout`).
    public var nodeTimeout: Double = 10
    /// How jobs' processes are contained (see `JobEngine.containmentMethod`): `.auto` takes a
    /// cgroup per job where a cgroup v2 directory is writable, else a per-job subreaper.
    public var containment: ContainmentChoice = .auto
    /// The user jobs run as when they name none (`--job-user`); nil: jobsd's own user.
    public var jobUser: String?
    /// Users a job may name in `user` (`--allow-users`), besides `jobUser`.
    public var allowedUsers: [String] = []
    /// `--priority-aging`: seconds of waiting worth one priority level (see `Job.priority`).
    public var priorityAging: Double = 60

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
        self.maxRunning = 4 * max(1, Foundation.ProcessInfo.processInfo.activeProcessorCount)
    }
}
