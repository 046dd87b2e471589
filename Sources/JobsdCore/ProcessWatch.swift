import JobsdMetrics

/// What the code supervising one process tree waits for: the main process's exit (from the
/// reaper) and a request to stop it (cancel, deadline, shutdown), each recorded once.
///
/// Thread-safe: `status`, `stopGrace` and `generation` are guarded by `lock`.
final class ProcessWatch: @unchecked Sendable {
    private let lock = PThreadLock()
    private var status: ExitStatus?
    private var stopGrace: Double?
    private var generation: UInt64 = 0
    private let condition = AsyncCondition()

    struct Snapshot {
        var status: ExitStatus?
        var stopGrace: Double?
        var generation: UInt64
    }

    var snapshot: Snapshot { lock.withLock { Snapshot(status: status, stopGrace: stopGrace, generation: generation) } }

    /// Records the main process's exit (called on the reaper thread).
    @Sendable func exited(_ value: ExitStatus) {
        lock.withLock {
            status = value
            generation &+= 1
        }
        condition.broadcast()
    }

    /// Asks the supervisor to stop the tree with `grace` seconds from SIGTERM to SIGKILL. A later
    /// request can only shorten the grace.
    func requestStop(grace: Double) {
        lock.withLock {
            stopGrace = min(stopGrace ?? grace, grace)
            generation &+= 1
        }
        condition.broadcast()
    }

    /// Suspends until something changed after `generation`, or `timeout` passes. Ignores task
    /// cancellation: supervision always runs to the end.
    func wait(after generation: UInt64, timeout: Double?) async {
        await condition.wait(timeout: timeout, cancellable: false) { self.lock.withLock { self.generation != generation } }
    }
}
