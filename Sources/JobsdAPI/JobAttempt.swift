/// One finished attempt of a job (CONTRACT.md, "Orchestration: Retries"), as listed in the job's
/// `attempts`, oldest first.
public struct JobAttempt: Decodable, Sendable, Equatable {
    /// 1-based.
    public var attempt: Int
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp
    public var exitCode: Int32?
    public var signal: String?
    public var error: String?
    /// How this attempt ended: `succeeded`, `failed`, `timed_out` or `cancelled`.
    public var state: JobState

    public init(attempt: Int, startedAt: Timestamp?, finishedAt: Timestamp, exitCode: Int32?, signal: String?, error: String?, state: JobState) {
        self.attempt = attempt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.signal = signal
        self.error = error
        self.state = state
    }

    enum CodingKeys: String, CodingKey {
        case attempt, signal, error, state
        case startedAt = "started_at", finishedAt = "finished_at", exitCode = "exit_code"
    }

    public func write(into w: inout JSONWriter) {
        w.raw("{\"attempt\":"); w.raw(String(attempt))
        w.raw(",\"started_at\":"); w.optional(startedAt) { $0.string($1.description) }
        w.raw(",\"finished_at\":"); w.string(finishedAt.description)
        w.raw(",\"exit_code\":"); w.optional(exitCode) { $0.raw(String($1)) }
        w.raw(",\"signal\":"); w.optional(signal) { $0.string($1) }
        w.raw(",\"error\":"); w.optional(error) { $0.string($1) }
        w.raw(",\"state\":"); w.string(state.rawValue)
        w.raw("}")
    }
}
