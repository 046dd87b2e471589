import Dispatch
import Glibc
import JobsdMetrics
import Logging

/// Stops every process of one job (or of one cleanup command): SIGTERM to the process group and
/// to escaped descendants, up to `grace` seconds for them to exit, SIGKILL to all that remain,
/// then sweeps again and again until none is left. Used for cancel, timeout, shutdown, leftovers
/// after the main process exited by itself, and recovery.
///
/// Waiting is event-driven for the main process (its exit wakes the ladder at once) and polls
/// `/proc` with a short backoff (1 ms doubling to 50 ms) for the rest. Task cancellation does not
/// cut it short.
struct SignalLadder: Sendable {
    /// The `JOBSD_JOB_ID` marker the processes carry.
    let jobID: String
    /// The main process's process group (its pid: it runs in its own session); nil when it is
    /// not known to be ours (recovery with a reused pid).
    let processGroup: pid_t?
    /// Start time (clock ticks) of the main process: nothing of the job is older. nil: unknown.
    let startedAfter: UInt64?
    /// Exit events of the main process; nil when it is not our child (recovery).
    let watch: ProcessWatch?
    let logger: Logger
    let escapedKilled: Counter

    /// How long SIGKILLed processes may take to disappear before they are reported as survivors.
    static let killSweepLimit = 10.0
    /// How long after SIGTERM to the group the ladder waits for the leader's exit before it scans
    /// for escaped descendants.
    static let firstLook = 0.001

    struct Result: Equatable {
        /// Processes still alive when the ladder gave up (stuck in uninterruptible sleep).
        var survivors: Int
        /// Processes outside the process group that were signalled.
        var escaped: Int
        /// Processes found alive and signalled after the main process had exited (leftovers).
        var leftovers = 0
        /// What was sent, for the timeline.
        var signals: [SignalRecord.Sent] = []
    }

    private var leaderDone: Bool { watch.map { $0.snapshot.status != nil } ?? true }

    /// A cheap proof that nothing of the job is left, without reading every `/proc/<pid>/stat`
    /// (slow on some kernels): the leader was reaped, its process group is empty, and this process
    /// has no adopted orphans — any escaped descendant of the job would be one of those, or below
    /// one (jobsd is the subreaper). False means "maybe": scan.
    private var provablyGone: Bool {
        guard leaderDone, watch != nil, let processGroup else { return false }
        guard kill(-processGroup, 0) == -1, errno == ESRCH else { return false }
        return Reaper.shared.adoptedChildren().isEmpty
    }

    private func scan() -> [ProcStat] {
        provablyGone ? [] : ProcessTable.members(jobID: jobID, processGroup: processGroup, startedAfter: startedAfter)
    }

    /// Runs the ladder; returns when the tree is gone (or the kill sweep gave up).
    ///
    /// While the main process runs, SIGTERM goes to its process group first, before any `/proc`
    /// scan (usually that group is the whole job); the scan for escaped descendants follows as
    /// soon as the leader exited or after `firstLook`, unless the cheap proof says none is left.
    func stop(grace: Double) async -> Result {
        var escaped = Set<pid_t>()
        var record = SignalRecord()
        var groupSignalled = false
        let exitedFirst = watch.map { $0.snapshot.status != nil && $0.snapshot.stopGrace == nil } ?? false
        if let processGroup, let watch {
            // The stop request may have sent it already (see `ProcessWatch.requestStop`).
            let generation = watch.snapshot.generation
            groupSignalled = watch.terminateGroupOnce(processGroup)
            if groupSignalled, !leaderDone { await watch.wait(after: generation, timeout: Self.firstLook) }
        }
        var members = scan()
        if groupSignalled {
            record.group(SIGTERM, members: members.count { $0.pgid == processGroup }, time: watch?.groupTerminatedAt ?? .now())
        }
        if members.isEmpty, leaderDone { return Result(survivors: 0, escaped: 0, signals: record.sent) }
        let leftovers = exitedFirst ? members.count : 0

        signal(SIGTERM, members, &escaped, &record, groupSignalled: groupSignalled)
        logger.info("SIGTERM sent", metadata: ["processes": "\(members.count)", "grace": "\(grace)"])
        if await waitUntilGone(within: grace, &members) { return finish(escaped, survivors: 0, leftovers: leftovers, record) }

        logger.info("SIGKILL sent", metadata: ["processes": "\(members.count)"])
        let deadline = DispatchTime.now() + Self.killSweepLimit
        var backoff = 0.001
        while DispatchTime.now() < deadline {
            signal(SIGKILL, members, &escaped, &record)
            let generation = watch?.snapshot.generation ?? 0
            if let watch { await watch.wait(after: generation, timeout: backoff) } else { await AsyncCondition.sleep(backoff) }
            backoff = min(backoff * 2, 0.05)
            members = scan()
            if members.isEmpty, leaderDone { return finish(escaped, survivors: 0, leftovers: leftovers, record) }
        }
        logger.error("processes did not stop after SIGKILL", metadata: ["processes": "\(members.count)"])
        return finish(escaped, survivors: max(members.count, 1), leftovers: leftovers, record)
    }

    /// Polls until no process is left and the leader was reaped, or `seconds` pass.
    private func waitUntilGone(within seconds: Double, _ members: inout [ProcStat]) async -> Bool {
        let deadline = DispatchTime.now() + seconds
        var backoff = 0.001
        while true {
            let now = DispatchTime.now()
            guard now < deadline else { return false }
            let remaining = Double(deadline.uptimeNanoseconds - now.uptimeNanoseconds) / 1e9
            let generation = watch?.snapshot.generation ?? 0
            if let watch {
                await watch.wait(after: generation, timeout: min(backoff, remaining))
            } else {
                await AsyncCondition.sleep(min(backoff, remaining))
            }
            backoff = min(backoff * 2, 0.05)
            members = scan()
            if members.isEmpty, leaderDone { return true }
        }
    }

    /// Sends `sig` to the process group (unless `groupSignalled`: it already got it) and to every
    /// member (outside the group only, when `groupSignalled`), so no process gets it twice.
    /// Each signal is recorded in `record` before it is sent.
    private func signal(
        _ sig: Int32, _ members: [ProcStat], _ escaped: inout Set<pid_t>, _ record: inout SignalRecord, groupSignalled: Bool = false
    ) {
        if let processGroup, !groupSignalled, !leaderDone || members.contains(where: { $0.pgid == processGroup }) {
            record.group(sig, members: members.count { $0.pgid == processGroup })
            kill(-processGroup, sig)
        }
        let outside = members.filter { $0.pgid != processGroup }.map(\.pid)
        record.escaped(sig, pids: outside)
        for p in members where !(groupSignalled && p.pgid == processGroup) {
            kill(p.pid, sig)
            if p.pgid != processGroup { escaped.insert(p.pid) }
        }
    }

    private func finish(_ escaped: Set<pid_t>, survivors: Int, leftovers: Int, _ record: SignalRecord) -> Result {
        if !escaped.isEmpty {
            escapedKilled.increment(by: Double(escaped.count))
            logger.info("escaped descendants killed", metadata: ["count": "\(escaped.count)"])
        }
        return Result(survivors: survivors, escaped: escaped.count, leftovers: leftovers, signals: record.sent)
    }
}
