import JobsdAPI

extension Job {
    /// A job as the server would answer it, with the fields a test cares about.
    static func make(id: String = "01JDQ6W6X7Z8K9M0N1P2Q3R4S5", state: JobState = .running, exitCode: Int32? = nil, command: [String] = ["true"]) -> Job {
        Job(id: id, command: command, state: state, createdAt: Timestamp(milliseconds: 1_790_000_000_000),
            timeoutSeconds: 3600, graceSeconds: 10, exitCode: exitCode, cleanup: CleanupStatus(state: .none))
    }
}


