/// The lifecycle state of a job (CONTRACT.md, "States").
///
/// `queued → running → succeeded | failed | timed_out`, `running → cancelling → cancelled`,
/// `queued → cancelled`. Terminal states never change again.
public enum JobState: String, Codable, Sendable, CaseIterable, Hashable {
    case queued, running, cancelling, succeeded, failed
    case timedOut = "timed_out"
    case cancelled

    /// True for `succeeded`, `failed`, `timed_out` and `cancelled`.
    public var isTerminal: Bool {
        switch self {
        case .queued, .running, .cancelling: false
        case .succeeded, .failed, .timedOut, .cancelled: true
        }
    }
}

/// The state of a job's user `cleanup` command.
public enum CleanupState: String, Codable, Sendable, CaseIterable, Hashable {
    /// No cleanup command, or the job was cancelled while queued.
    case none
    /// A cleanup command exists and has not run yet (also while the job is queued).
    case pending, running, done
    /// The cleanup command exited non-zero or could not be spawned.
    case failed
    case timedOut = "timed_out"
}

/// Which output stream a log chunk came from.
public enum LogStream: String, Codable, Sendable, Hashable {
    case stdout, stderr
}
