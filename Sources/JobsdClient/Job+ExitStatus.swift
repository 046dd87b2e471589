import JobsdAPI

extension Job {
    /// The exit status of a command that waited for this job (`jobctl wait`, `submit --wait`):
    /// `0` succeeded; `124` timed_out; `130` cancelled; a failed job's own exit code when it has
    /// a non-zero one; `1` for any other failure (killed by a signal, could not be spawned,
    /// interrupted) and for a job not yet terminal when the wait gave up.
    public var waitExitStatus: Int32 {
        switch state {
        case .succeeded: 0
        case .timedOut: 124
        case .cancelled: 130
        case .failed: exitCode.flatMap { $0 == 0 ? nil : $0 } ?? 1
        case .queued, .running, .cancelling: 1
        }
    }
}
