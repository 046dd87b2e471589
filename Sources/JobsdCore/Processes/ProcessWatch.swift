import Glibc
import JobsdMetrics

/// What the code supervising one process tree waits for: the main process's exit (from the
/// reaper) and a request to stop it (cancel, deadline, shutdown), each recorded once. Also the
/// one sender of SIGTERM to the main process's group, so that it gets it at most once.
///
/// Thread-safe: `status`, `stopGrace`, `generation`, `group` and `groupTerminated` are guarded by
/// `lock`.
final class ProcessWatch: @unchecked Sendable {
    private let lock = PThreadLock()
    private var status: ExitStatus?
    private var stopGrace: Double?
    private var generation: UInt64 = 0
    /// The main process's group once known: a stop request sends it SIGTERM at once.
    private var group: pid_t?
    private var groupTerminated = false
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
    /// request can only shorten the grace. Once the group is known (`stopsGroup`), it gets SIGTERM
    /// right here, on the requesting thread, not after a hop to the supervising task.
    func requestStop(grace: Double) {
        lock.withLock {
            stopGrace = min(stopGrace ?? grace, grace)
            generation &+= 1
            if let group { _ = terminate(group) }
        }
        condition.broadcast()
    }

    /// Makes stop requests from now on send SIGTERM to `group` (the main process's) at once.
    func stopsGroup(_ group: pid_t) {
        lock.withLock { self.group = group }
    }

    /// Sends SIGTERM to `group` unless it got it already or the main process was reaped (its pid
    /// may name another group then); true when the group got it, now or earlier.
    func terminateGroupOnce(_ group: pid_t) -> Bool {
        lock.withLock { terminate(group) }
    }

    /// Caller holds `lock`.
    private func terminate(_ group: pid_t) -> Bool {
        if !groupTerminated, status == nil { groupTerminated = kill(-group, SIGTERM) == 0 }
        return groupTerminated
    }

    /// Suspends until something changed after `generation`, or `timeout` passes. Ignores task
    /// cancellation: supervision always runs to the end.
    func wait(after generation: UInt64, timeout: Double?) async {
        await condition.wait(timeout: timeout, cancellable: false) { self.lock.withLock { self.generation != generation } }
    }
}
