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
/// Waiting is event-driven: the main process's exit wakes the ladder at once, and so does a change
/// of the tree where it can tell (a cgroup's `cgroup.events`, through `CgroupEvents`). A bounded
/// poll of the tree stays underneath (1 ms doubling to 50 ms without such events, to 500 ms with
/// them: the kernel may hold a cgroup's notification back for up to 10 ms, and a missed one must
/// never hang a job). The common cancel (the main process's group is the whole tree) ends at the
/// main process's exit, without a wait on the tree. Task cancellation does not cut it short.
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
        // From here on a change of the tree wakes the waits below too.
        let wakes = watch ?? ProcessWatch()
        let observation = tree.observe { wakes.treeChanged() }
        defer { observation?() }
        let waits = Waits(wakes: wakes, pollCap: observation == nil ? Self.pollCap : Self.observedPollCap)

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
        if await waitUntilGone(within: grace, waits) { return finish(escaped: escaped, survivors: 0, leftovers: leftovers, record) }

        // 4. SIGKILL until empty.
        logger.info("SIGKILL sent")
        record.group(SIGKILL, members: tree.processCount)
        let deadline = DispatchTime.now() + Self.killSweepLimit
        var backoff = 0.001
        while DispatchTime.now() < deadline {
            tree.killAll()
            if await waitUntilGone(within: backoff, waits, firstPoll: backoff) { return finish(escaped: escaped, survivors: 0, leftovers: leftovers, record) }
            backoff = min(backoff * 2, Self.pollCap)
        }
        let left = tree.isPopulated ? 1 : 0
        logger.error("processes did not stop after SIGKILL", metadata: ["leader_reaped": "\(leaderDone)"])
        return finish(escaped: escaped, survivors: max(left, 1), leftovers: leftovers, record)
    }

    /// What the waits of one `stop` wake on: `wakes` (the main process's exit, a stop request, a
    /// change of the tree) or, at the latest, the next poll (doubling up to `pollCap`).
    private struct Waits {
        let wakes: ProcessWatch
        let pollCap: Double
    }

    /// The first poll of the tree after a wait began.
    static let firstPoll = 0.001
    /// The longest poll step when the tree does not report its changes.
    static let pollCap = 0.05
    /// The longest poll step when it does (`ContainedTree.observe`): the poll is only the bound
    /// for a late or lost notification.
    static let observedPollCap = 0.5

    /// Waits until the tree is empty and the leader was reaped (true), or `seconds` pass (false),
    /// looking at the tree at each wake-up and poll (the first after `firstPoll`). The generation
    /// is read before the look, so a change between the look and the wait is not missed.
    private func waitUntilGone(within seconds: Double, _ waits: Waits, firstPoll: Double = Self.firstPoll) async -> Bool {
        let deadline = DispatchTime.now() + seconds
        var poll = firstPoll
        while true {
            let generation = waits.wakes.snapshot.generation
            if isGone { return true }
            let now = DispatchTime.now()
            guard now < deadline else { return false }
            let remaining = Double(deadline.uptimeNanoseconds - now.uptimeNanoseconds) / 1e9
            await waits.wakes.wait(after: generation, timeout: min(poll, remaining))
            poll = min(poll * 2, waits.pollCap)
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
