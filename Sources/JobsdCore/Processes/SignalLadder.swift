import CoreMetrics
import Dispatch
import Glibc
import Logging

/// Stops every process of one job (or of one cleanup command): SIGTERM to the main process's
/// group and to every other process of its `ContainedTree`, up to `grace` seconds for them to
/// exit, SIGKILL to the whole tree (again and again) until it is empty. Used for cancel, timeout,
/// shutdown, leftovers after the main process exited by itself, and recovery.
///
/// The steps, in order (each logged; hooks for job events go beside those log lines):
/// 1. SIGTERM to the main process's group (at most once: `ProcessWatch` may have sent it with
///    the stop request), then a short look (`firstLook`) for the tree to empty;
/// 2. SIGTERM to the rest of the tree (`ContainedTree.terminate`; escaped descendants counted);
/// 3. wait up to `grace` for the tree to be empty and the main process reaped;
/// 4. SIGKILL to the whole tree, repeated with a short backoff until it is empty, at most
///    `killSweepLimit` seconds (a process stuck in uninterruptible sleep is reported as a survivor).
///
/// Waiting is event-driven for the main process (its exit wakes the ladder at once) and polls the
/// tree (`cgroup.events` or the subreaper) with a short backoff (1 ms doubling to 50 ms) for the
/// rest. Task cancellation does not cut it short.
struct SignalLadder: Sendable {
    /// Where the job's processes are.
    let tree: any ContainedTree
    /// The main process's group (its pid: it runs in its own session); nil when it is not known
    /// to be ours (recovery).
    let processGroup: pid_t?
    /// Exit events of the main process; nil when it is not our child (recovery).
    let watch: ProcessWatch?
    let logger: Logger
    let escapedKilled: Counter

    /// How long SIGKILLed processes may take to disappear before they are reported as survivors.
    static let killSweepLimit = 10.0
    /// How long after SIGTERM to the group the ladder waits for the tree to empty before it
    /// signals the rest of the tree.
    static let firstLook = 0.001

    struct Result: Equatable {
        /// Processes still alive when the ladder gave up (stuck in uninterruptible sleep).
        var survivors: Int
        /// Processes outside the main process's group that were signalled.
        var escaped: Int
        /// Processes found alive and stopped after the main process had exited by itself.
        var leftovers = 0
        /// What was sent, for the timeline (`signal_sent`).
        var signals: [SignalRecord.Sent] = []
    }

    private var leaderDone: Bool { watch.map { $0.snapshot.status != nil } ?? true }
    private var isGone: Bool { leaderDone && !tree.isPopulated }

    /// Runs the ladder; returns when the tree is gone (or the kill sweep gave up).
    func stop(grace: Double) async -> Result {
        var record = SignalRecord()
        let exitedFirst = watch.map { $0.snapshot.status != nil && $0.snapshot.stopGrace == nil } ?? false
        // 1. The main process's group.
        var groupSignalled = false
        if let processGroup, let watch {
            let generation = watch.snapshot.generation
            groupSignalled = watch.terminateGroupOnce(processGroup)
            if groupSignalled { record.group(SIGTERM, members: tree.processCount, time: watch.groupTerminatedAt ?? .now()) }
            if groupSignalled, !leaderDone { await watch.wait(after: generation, timeout: Self.firstLook) }
        }
        if isGone { return finish(escaped: 0, survivors: 0, record) }

        // 2. The rest of the tree.
        let alive = groupSignalled ? 0 : tree.processCount
        let time = EventTime.now()
        let escaped = tree.terminate(sparing: groupSignalled ? processGroup : nil, mainGroup: processGroup)
        if processGroup == nil {
            // Recovery: no main process to tell the group by; the job's processes as a whole.
            if alive > 0 { record.group(SIGTERM, members: alive, time: time) }
        } else {
            if alive > escaped { record.group(SIGTERM, members: alive - escaped, time: time) }
            record.escaped(SIGTERM, count: escaped, time: time)
        }
        logger.info("SIGTERM sent", metadata: ["escaped": "\(escaped)", "grace": "\(grace)"])
        let leftovers = exitedFirst ? alive : 0

        // 3. The grace period.
        if await waitUntilGone(within: grace) { return finish(escaped: escaped, survivors: 0, leftovers: leftovers, record) }

        // 4. SIGKILL until empty.
        logger.info("SIGKILL sent")
        record.group(SIGKILL, members: tree.processCount)
        let deadline = DispatchTime.now() + Self.killSweepLimit
        var backoff = 0.001
        while DispatchTime.now() < deadline {
            tree.killAll()
            await pause(backoff)
            backoff = min(backoff * 2, 0.05)
            if isGone { return finish(escaped: escaped, survivors: 0, leftovers: leftovers, record) }
        }
        let left = tree.isPopulated ? 1 : 0
        logger.error("processes did not stop after SIGKILL", metadata: ["leader_reaped": "\(leaderDone)"])
        return finish(escaped: escaped, survivors: max(left, 1), leftovers: leftovers, record)
    }

    /// Polls until the tree is empty and the leader was reaped, or `seconds` pass.
    private func waitUntilGone(within seconds: Double) async -> Bool {
        let deadline = DispatchTime.now() + seconds
        var backoff = 0.001
        while true {
            let now = DispatchTime.now()
            guard now < deadline else { return false }
            let remaining = Double(deadline.uptimeNanoseconds - now.uptimeNanoseconds) / 1e9
            await pause(min(backoff, remaining))
            backoff = min(backoff * 2, 0.05)
            if isGone { return true }
        }
    }

    /// Up to `seconds`, or until the main process's exit (or a stop request) is recorded.
    private func pause(_ seconds: Double) async {
        if let watch {
            await watch.wait(after: watch.snapshot.generation, timeout: seconds)
        } else {
            await AsyncCondition.sleep(seconds)
        }
    }

    private func finish(escaped signalled: Int, survivors: Int, leftovers: Int = 0, _ record: SignalRecord) -> Result {
        let escaped = signalled + tree.escapedReported
        if escaped > 0 {
            escapedKilled.increment(by: escaped)
            logger.info("escaped descendants killed", metadata: ["count": "\(escaped)"])
        }
        return Result(survivors: survivors, escaped: escaped, leftovers: leftovers, signals: record.sent)
    }
}
