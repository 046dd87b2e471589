import Glibc
import JobsdMetrics

/// What the code supervising one process tree waits for: the main process's exit (from the
/// reaper) and a request to stop it (cancel, deadline, shutdown), each recorded once, and (for
/// the `SignalLadder`) changes of the tree. Also the one sender of SIGTERM to the main process's
/// group, so that it gets it at most once.
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
    private var exitTime: EventTime?
    private var groupTerminatedTime: EventTime?
    private let condition = AsyncCondition()

    struct Snapshot {
        var status: ExitStatus?
        var stopGrace: Double?
        var generation: UInt64
    }

    var snapshot: Snapshot { lock.withLock { Snapshot(status: status, stopGrace: stopGrace, generation: generation) } }

    /// Records the main process's exit (called on the reaper thread).
    @Sendable func exited(_ value: ExitStatus) {
        let time = EventTime.now()
        lock.withLock {
            status = value
            exitTime = time
            generation &+= 1
        }
        condition.broadcast()
    }

    /// Something in the process tree changed (its cgroup's `cgroup.events`): wakes `wait`, so the
    /// `SignalLadder` looks at the tree again (on the notifying thread).
    @Sendable func treeChanged() {
        lock.withLock { generation &+= 1 }
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

    /// When the main process's exit was recorded (nil until then).
    var exitedAt: EventTime? { lock.withLock { exitTime } }

    /// When the group got SIGTERM from here (nil: not yet, or not by this watch).
    var groupTerminatedAt: EventTime? { lock.withLock { groupTerminatedTime } }

    /// Caller holds `lock`.
    private func terminate(_ group: pid_t) -> Bool {
        if !groupTerminated, status == nil {
            let time = EventTime.now()
            groupTerminated = kill(-group, SIGTERM) == 0
            if groupTerminated { groupTerminatedTime = time }
        }
        return groupTerminated
    }

    /// Suspends until something changed after `generation`, or `timeout` passes. Ignores task
    /// cancellation: supervision always runs to the end.
    func wait(after generation: UInt64, timeout: Double?) async {
        await condition.wait(timeout: timeout, cancellable: false) { self.lock.withLock { self.generation != generation } }
    }

    /// Suspends until the main process has exited or a stop (cancel, deadline, shutdown) is
    /// requested, and returns the state then. Ignores task cancellation, like `wait`.
    func exitOrStop() async -> Snapshot {
        var snapshot = self.snapshot
        while snapshot.status == nil, snapshot.stopGrace == nil {
            await wait(after: snapshot.generation, timeout: nil)
            snapshot = self.snapshot
        }
        return snapshot
    }
}
