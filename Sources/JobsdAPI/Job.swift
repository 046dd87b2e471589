/// A job as the API shows it (CONTRACT.md, "A job"). Every field is always present on the wire;
/// times and outcomes are `null` until they happen.
public struct Job: Codable, Sendable, Equatable {
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
    /// The node that claimed the job (several nodes on PostgreSQL); nil until it is claimed, and
    /// always nil on a single node's SQLite store.
    public var node: String?

    public init(
        id: String, name: String? = nil, labels: [String: String] = [:], command: [String], state: JobState,
        createdAt: Timestamp, startedAt: Timestamp? = nil, finishedAt: Timestamp? = nil, timeoutSeconds: Double,
        graceSeconds: Double, cancelRequestedAt: Timestamp? = nil, pid: Int32? = nil, exitCode: Int32? = nil,
        signal: String? = nil, error: String? = nil, cleanup: CleanupStatus, logBytes: Int64 = 0, logDroppedBytes: Int64 = 0,
        node: String? = nil
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
        self.node = node
    }

    enum CodingKeys: String, CodingKey {
        case id, name, labels, command, state, pid, signal, error, cleanup, node
        case createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
        case timeoutSeconds = "timeout_seconds", graceSeconds = "grace_seconds"
        case cancelRequestedAt = "cancel_requested_at", exitCode = "exit_code", logBytes = "log_bytes"
        case logDroppedBytes = "log_dropped_bytes"
    }

    /// Every field is required except `log_dropped_bytes` (0 when absent: JSON from a jobsd
    /// before it, e.g. changes stored before an upgrade).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(String.self, forKey: .id), name: try c.decode(String?.self, forKey: .name),
            labels: try c.decode([String: String].self, forKey: .labels), command: try c.decode([String].self, forKey: .command),
            state: try c.decode(JobState.self, forKey: .state), createdAt: try c.decode(Timestamp.self, forKey: .createdAt),
            startedAt: try c.decode(Timestamp?.self, forKey: .startedAt), finishedAt: try c.decode(Timestamp?.self, forKey: .finishedAt),
            timeoutSeconds: try c.decode(Double.self, forKey: .timeoutSeconds), graceSeconds: try c.decode(Double.self, forKey: .graceSeconds),
            cancelRequestedAt: try c.decode(Timestamp?.self, forKey: .cancelRequestedAt), pid: try c.decode(Int32?.self, forKey: .pid),
            exitCode: try c.decode(Int32?.self, forKey: .exitCode), signal: try c.decode(String?.self, forKey: .signal),
            error: try c.decode(String?.self, forKey: .error), cleanup: try c.decode(CleanupStatus.self, forKey: .cleanup),
            logBytes: try c.decode(Int64.self, forKey: .logBytes),
            logDroppedBytes: try c.decodeIfPresent(Int64.self, forKey: .logDroppedBytes) ?? 0,
            node: try c.decode(String?.self, forKey: .node)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(labels, forKey: .labels)
        try c.encode(command, forKey: .command)
        try c.encode(state, forKey: .state)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(timeoutSeconds, forKey: .timeoutSeconds)
        try c.encode(graceSeconds, forKey: .graceSeconds)
        try c.encode(cancelRequestedAt, forKey: .cancelRequestedAt)
        try c.encode(pid, forKey: .pid)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(error, forKey: .error)
        try c.encode(cleanup, forKey: .cleanup)
        try c.encode(logBytes, forKey: .logBytes)
        try c.encode(logDroppedBytes, forKey: .logDroppedBytes)
        try c.encode(node, forKey: .node)
    }

    /// The wire JSON, written by hand (no Foundation encoder on the hot path); field order as in
    /// CONTRACT.md.
    public var json: String {
        var w = JSONWriter()
        write(into: &w)
        return w.text
    }

    public func write(into w: inout JSONWriter) {
        w.raw("{\"id\":"); w.string(id)
        w.raw(",\"name\":"); w.optional(name) { $0.string($1) }
        w.raw(",\"labels\":"); w.stringMap(labels)
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
        w.raw(",\"node\":"); w.optional(node) { $0.string($1) }
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
