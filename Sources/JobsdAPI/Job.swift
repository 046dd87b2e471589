/// A job as the API shows it (CONTRACT.md, "A job"). Every field is always present on the wire;
/// times and outcomes are `null` until they happen.
public struct Job: Decodable, Sendable, Equatable, JSONWritable {
    /// Monotonic ULID: URL-safe, strictly increasing in creation order.
    public var id: String
    public var name: String?
    public var labels: [String: String]
    public var command: [String]
    public var state: JobState
    public var createdAt: Timestamp
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp?
    public var timeoutSeconds: Double
    public var graceSeconds: Double
    public var cancelRequestedAt: Timestamp?
    /// The main process's pid; null until the job starts, kept afterwards.
    public var pid: Int32?
    public var exitCode: Int32?
    /// Name of the signal that ended the main process (`"SIGKILL"`).
    public var signal: String?
    /// One sentence where the exit code alone does not explain the end.
    public var error: String?
    public var cleanup: CleanupStatus
    public var logBytes: Int64
    /// Output bytes the job wrote that could not be stored (its log could not grow: disk full,
    /// I/O error); the job was never blocked for it. 0 when everything was stored.
    public var logDroppedBytes: Int64
    /// When a scheduled job (`run_at`, `delay_seconds`) or a retry after its backoff may start;
    /// nil when it may start at once.
    public var runAt: Timestamp?
    /// At most `concurrencyLimit` jobs with this key run at once; nil: no key.
    public var concurrencyKey: String?
    /// nil exactly when `concurrencyKey` is nil.
    public var concurrencyLimit: Int?
    /// The retry policy with its defaults filled in; nil: one attempt.
    public var retry: RetryPolicy?
    /// −100…100 (default 0). Among the jobs that may start, the one with the highest effective
    /// priority starts first: its priority plus one for every `--priority-aging` seconds since it
    /// was submitted, so an old job is never starved; ties in submission order. Within one
    /// concurrency key jobs still start in submission order.
    public var priority: Int
    /// 1-based number of the current (or, once terminal, last) attempt.
    public var attempt: Int
    /// The attempts that ended before the current one, oldest first (retries). On the wire
    /// (`allAttempts`) the current attempt follows once the job is terminal; a decoded job holds
    /// the wire list.
    public var attempts: [JobAttempt]
    /// The group the job was submitted in (`POST /v1/groups`); nil otherwise.
    public var groupID: String?
    /// The schedule whose tick submitted the job (`POST /v1/schedules`); nil otherwise.
    public var scheduleID: String?

    /// Every finished attempt, oldest first, the last one included once the job is terminal: the
    /// wire's `attempts`.
    public var allAttempts: [JobAttempt] { endedAttempt.map { attempts + [$0] } ?? attempts }

    /// The current attempt as an entry of `attempts`, once the job is terminal after starting it
    /// (nil while it is not terminal, when it never started, or when `attempts` holds it already).
    public var endedAttempt: JobAttempt? {
        guard state.isTerminal, let finishedAt, let startedAt else { return nil }
        if let last = attempts.last, last.attempt >= attempt { return nil }
        return JobAttempt(
            attempt: attempt, startedAt: startedAt, finishedAt: finishedAt, exitCode: exitCode, signal: signal, error: error, state: state)
    }

    /// The job's place among the jobs that may start, lowest first (ties by id): submission time
    /// in milliseconds − `priority` × `agingMilliseconds` (`--priority-aging`). Two waiting jobs
    /// age alike, so their order never changes while they wait.
    public func rank(agingMilliseconds aging: Int64) -> Int64 {
        createdAt.milliseconds &- Int64(priority) &* aging
    }

    /// `retry.max_attempts`, 1 without a retry policy.
    public var maxAttempts: Int { retry?.maxAttempts ?? 1 }
    /// The node that claimed the job (several nodes on PostgreSQL); nil until it is claimed, and
    /// always nil on a single node's SQLite store.
    public var node: String?
    /// The resource limits in force (the request's, with the server's defaults applied); nil: none.
    public var limits: JobLimits?
    /// The user the job runs as (its `user`, else `--job-user`); nil: jobsd's own user.
    public var user: String?

    public init(
        id: String, name: String? = nil, labels: [String: String] = [:], command: [String], state: JobState,
        createdAt: Timestamp, startedAt: Timestamp? = nil, finishedAt: Timestamp? = nil, timeoutSeconds: Double,
        graceSeconds: Double, cancelRequestedAt: Timestamp? = nil, pid: Int32? = nil, exitCode: Int32? = nil,
        signal: String? = nil, error: String? = nil, cleanup: CleanupStatus, logBytes: Int64 = 0, logDroppedBytes: Int64 = 0,
        runAt: Timestamp? = nil, concurrencyKey: String? = nil, concurrencyLimit: Int? = nil, retry: RetryPolicy? = nil,
        priority: Int = 0, attempt: Int = 1, attempts: [JobAttempt] = [], groupID: String? = nil, scheduleID: String? = nil, node: String? = nil,
        limits: JobLimits? = nil, user: String? = nil
    ) {
        self.id = id
        self.name = name
        self.labels = labels
        self.command = command
        self.state = state
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.timeoutSeconds = timeoutSeconds
        self.graceSeconds = graceSeconds
        self.cancelRequestedAt = cancelRequestedAt
        self.pid = pid
        self.exitCode = exitCode
        self.signal = signal
        self.error = error
        self.cleanup = cleanup
        self.logBytes = logBytes
        self.logDroppedBytes = logDroppedBytes
        self.runAt = runAt
        self.concurrencyKey = concurrencyKey
        self.concurrencyLimit = concurrencyLimit
        self.retry = retry
        self.priority = priority
        self.attempt = attempt
        self.attempts = attempts
        self.groupID = groupID
        self.scheduleID = scheduleID
        self.node = node
        self.limits = limits
        self.user = user
    }

    enum CodingKeys: String, CodingKey {
        case id, name, labels, command, state, pid, signal, error, cleanup, node, limits, user
        case createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
        case timeoutSeconds = "timeout_seconds", graceSeconds = "grace_seconds"
        case cancelRequestedAt = "cancel_requested_at", exitCode = "exit_code", logBytes = "log_bytes"
        case logDroppedBytes = "log_dropped_bytes"
        case runAt = "run_at", concurrencyKey = "concurrency_key", concurrencyLimit = "concurrency_limit", retry, priority
        case attempt, maxAttempts = "max_attempts", attempts, groupID = "group_id", scheduleID = "schedule_id"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        labels = try c.decode([String: String].self, forKey: .labels)
        command = try c.decode([String].self, forKey: .command)
        state = try c.decode(JobState.self, forKey: .state)
        createdAt = try c.decode(Timestamp.self, forKey: .createdAt)
        startedAt = try c.decodeIfPresent(Timestamp.self, forKey: .startedAt)
        finishedAt = try c.decodeIfPresent(Timestamp.self, forKey: .finishedAt)
        timeoutSeconds = try c.decode(Double.self, forKey: .timeoutSeconds)
        graceSeconds = try c.decode(Double.self, forKey: .graceSeconds)
        cancelRequestedAt = try c.decodeIfPresent(Timestamp.self, forKey: .cancelRequestedAt)
        pid = try c.decodeIfPresent(Int32.self, forKey: .pid)
        exitCode = try c.decodeIfPresent(Int32.self, forKey: .exitCode)
        signal = try c.decodeIfPresent(String.self, forKey: .signal)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        cleanup = try c.decode(CleanupStatus.self, forKey: .cleanup)
        logBytes = try c.decode(Int64.self, forKey: .logBytes)
        logDroppedBytes = try c.decodeIfPresent(Int64.self, forKey: .logDroppedBytes) ?? 0
        runAt = try c.decodeIfPresent(Timestamp.self, forKey: .runAt)
        concurrencyKey = try c.decodeIfPresent(String.self, forKey: .concurrencyKey)
        concurrencyLimit = try c.decodeIfPresent(Int.self, forKey: .concurrencyLimit)
        retry = try c.decodeIfPresent(RetryPolicy.self, forKey: .retry)
        priority = try c.decodeIfPresent(Int.self, forKey: .priority) ?? 0
        attempt = try c.decodeIfPresent(Int.self, forKey: .attempt) ?? 1
        attempts = try c.decodeIfPresent([JobAttempt].self, forKey: .attempts) ?? []
        groupID = try c.decodeIfPresent(String.self, forKey: .groupID)
        scheduleID = try c.decodeIfPresent(String.self, forKey: .scheduleID)
        node = try c.decodeIfPresent(String.self, forKey: .node)
        limits = try c.decodeIfPresent(JobLimits.self, forKey: .limits)
        user = try c.decodeIfPresent(String.self, forKey: .user)
    }

    /// The wire JSON (`json`), field order as in CONTRACT.md.
    public func write(into w: inout JSONWriter) {
        w.beginObject(id: id, name: name, labels: labels)
        w.raw(",\"command\":"); w.stringArray(command)
        w.raw(",\"state\":"); w.string(state.rawValue)
        w.raw(",\"created_at\":"); w.string(createdAt.description)
        w.raw(",\"started_at\":"); w.optional(startedAt) { $0.string($1.description) }
        w.raw(",\"finished_at\":"); w.optional(finishedAt) { $0.string($1.description) }
        w.raw(",\"timeout_seconds\":"); w.number(timeoutSeconds)
        w.raw(",\"grace_seconds\":"); w.number(graceSeconds)
        w.raw(",\"cancel_requested_at\":"); w.optional(cancelRequestedAt) { $0.string($1.description) }
        w.raw(",\"pid\":"); w.optional(pid) { $0.raw(String($1)) }
        w.raw(",\"exit_code\":"); w.optional(exitCode) { $0.raw(String($1)) }
        w.raw(",\"signal\":"); w.optional(signal) { $0.string($1) }
        w.raw(",\"error\":"); w.optional(error) { $0.string($1) }
        w.raw(",\"cleanup\":{\"state\":"); w.string(cleanup.state.rawValue)
        w.raw(",\"exit_code\":"); w.optional(cleanup.exitCode) { $0.raw(String($1)) }
        w.raw(",\"error\":"); w.optional(cleanup.error) { $0.string($1) }
        w.raw("},\"log_bytes\":"); w.raw(String(logBytes))
        w.raw(",\"log_dropped_bytes\":"); w.raw(String(logDroppedBytes))
        w.raw(",\"run_at\":"); w.optional(runAt) { $0.string($1.description) }
        w.raw(",\"concurrency_key\":"); w.optional(concurrencyKey) { $0.string($1) }
        w.raw(",\"concurrency_limit\":"); w.optional(concurrencyLimit) { $0.raw(String($1)) }
        w.raw(",\"retry\":"); w.optional(retry) { $1.write(into: &$0) }
        w.raw(",\"priority\":"); w.raw(String(priority))
        w.raw(",\"attempt\":"); w.raw(String(attempt))
        w.raw(",\"max_attempts\":"); w.raw(String(maxAttempts))
        w.raw(",\"attempts\":[")
        for (i, a) in allAttempts.enumerated() {
            if i > 0 { w.raw(",") }
            a.write(into: &w)
        }
        w.raw("],\"group_id\":"); w.optional(groupID) { $0.string($1) }
        w.raw(",\"schedule_id\":"); w.optional(scheduleID) { $0.string($1) }
        w.raw(",\"node\":"); w.optional(node) { $0.string($1) }
        w.raw(",\"limits\":"); w.optional(limits) { $1.write(into: &$0) }
        w.raw(",\"user\":"); w.optional(user) { $0.string($1) }
        w.raw("}")
    }
}

/// Outcome of the job's cleanup command.
public struct CleanupStatus: Codable, Sendable, Equatable {
    public var state: CleanupState
    public var exitCode: Int32?
    public var error: String?

    public init(state: CleanupState, exitCode: Int32? = nil, error: String? = nil) {
        self.state = state
        self.exitCode = exitCode
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case state, error
        case exitCode = "exit_code"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state, forKey: .state)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(error, forKey: .error)
    }
}
