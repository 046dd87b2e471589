import JobsdAPI
import JobsdStore
import Logging

/// Answer of `JobEngine.cancelGroup`.
public enum GroupCancelResult: Sendable {
    /// Its non-terminal jobs are being cancelled → 202.
    case cancelling(JobGroup)
    /// It was terminal before the call → 200.
    case terminal(JobGroup)
}

/// Why a group's jobs are cancelled together (the timeline's `cancel_requested.reason`).
enum GroupCancelReason: String, Sendable, CaseIterable {
    /// `DELETE /v1/groups/{id}`.
    case delete
    /// A sibling failed (fail_fast).
    case group
}

extension JobEngine {
    // MARK: - Groups (CONTRACT.md, "Orchestration: Groups")

    /// Stores a group and all its jobs in one commit (all or nothing), then queues the jobs (each
    /// with its own schedule, concurrency key and retries). Throws `.shuttingDown`, `.queueFull`
    /// when the jobs do not all fit in the queue, `.storeUnavailable` (nothing was stored).
    public func submitGroup(_ spec: GroupSpec) async throws(EngineError) -> JobGroup {
        let n = spec.jobs.count
        let refusal: EngineError? = state.lock.withLock {
            if state.shuttingDown { return .shuttingDown }
            if !state.hasRoom(for: n, limit: configuration.queueLimit) { return .queueFull(limit: configuration.queueLimit) }
            state.reserved += n
            return nil
        }
        if let refusal { throw refusal }
        var inserted = false
        defer {
            if !inserted { state.lock.withLock { state.reserved -= n } }
        }
        let now = Timestamp.now()
        let groupID = JobIDGenerator.shared.next(now: UInt64(max(now.milliseconds, 0)))
        let made = spec.jobs.map { newRecord($0, groupID: groupID, idempotencyKey: nil, fingerprint: nil) }
        let record = GroupRecord(group: JobGroup(
            id: groupID, name: spec.name, labels: spec.labels, failFast: spec.failFast, jobs: made.map(\.0.id), createdAt: now))
        let submittedAt = MonotonicInstant.now()
        do {
            try await writeOnce("new group") {
                try await store.insertGroup(record, jobs: made.map { ($0.0, Self.firstEvents(of: $0.0.job)) })
            }
        } catch { throw .storeUnavailable("\(error)") }
        inserted = true
        let group: JobGroup = state.lock.withLock {
            state.reserved -= n
            // On a shared store the jobs wait in the store for a node to claim them.
            state.claimWanted = true
            for (job, startAfter) in made where shared == nil {
                let live = LiveJob(record: job, phase: .queued, submittedAt: submittedAt, lastEventSeq: Self.firstEvents(of: job.job).count)
                live.startAfter = startAfter
                state.live[job.id] = live
                state.enqueue(live)
            }
            let live = LiveGroup(record: record, terminal: [:])
            state.groups[groupID] = live
            return snapshot(live)
        }
        for _ in 0..<n {
            metrics.submitted.increment()
            metrics.moved(from: nil, to: .queued)
        }
        logger.info("group submitted", metadata: ["group.id": "\(groupID)", "jobs": "\(n)"])
        changes.broadcast()
        if let shared {
            // Every node with a free slot may claim them; scheduled ones when their time comes.
            try? await shared.notify(channel: Self.queuedChannel, payload: "")
            for runAt in Set(made.compactMap(\.0.job.runAt)) { wakeClaims(at: runAt) }
        }
        return group
    }

    /// The group as it is now (counts of its jobs' current states); nil: unknown id.
    public func group(_ id: String) async throws(EngineError) -> JobGroup? {
        if let group = state.lock.withLock({ state.groups[id].map(snapshot) }) { return group }
        do { return try await store.group(id)?.group } catch { throw .storeUnavailable("\(error)") }
    }

    /// Returns when the group is terminal, or after `timeout` seconds, or when the calling task
    /// is cancelled — in the latter two cases with its state then. nil: unknown id.
    /// On a shared store, a group another node holds is read from the store until it is terminal.
    public func waitGroup(_ id: String, timeout: Double) async throws(EngineError) -> JobGroup? {
        if let live = state.lock.withLock({ state.groups[id] }) {
            await live.changes.wait(timeout: timeout) { [self] in state.lock.withLock { live.done } }
        } else if shared != nil {
            let deadline = ContinuousClock.now + .milliseconds(Int64(max(0, timeout) * 1000))
            while let group = try await group(id), !group.state.isTerminal, ContinuousClock.now < deadline, !Task.isCancelled {
                await AsyncCondition.sleep(0.05)
            }
        }
        return try await group(id)
    }

    /// Newest first: ids below `beforeID`, at most `limit`; running groups show their counts now.
    public func listGroups(beforeID: String?, limit: Int) async throws(EngineError) -> [JobGroup] {
        let stored: [GroupRecord]
        do { stored = try await store.listGroups(beforeID: beforeID, limit: limit) } catch { throw .storeUnavailable("\(error)") }
        return state.lock.withLock {
            stored.map { record in state.groups[record.id].map(snapshot) ?? record.group }
        }
    }

    /// Cancels every non-terminal job of the group in one pass (CONTRACT.md: queued ones become
    /// `cancelled` at once, in one commit; running ones get the signal ladder, then their
    /// cleanup); the timeline reason is `delete`. The group ends `cancelled` unless a failure
    /// decided it first. Idempotent. Throws `.groupNotFound`.
    public func cancelGroup(_ id: String) async throws(EngineError) -> GroupCancelResult {
        let found: (LiveGroup, GroupRecord?)? = state.lock.withLock {
            guard let live = state.groups[id] else { return nil }
            guard !live.finishing, live.record.cancelRequestedAt == nil else { return (live, nil) }
            live.record.cancelRequestedAt = .now()
            return (live, live.record)
        }
        if let (live, _) = found, state.lock.withLock({ live.finishing }) {
            // Its last job ended before this DELETE: answer once its final record is stored.
            await live.changes.wait(timeout: nil) { [self] in state.lock.withLock { live.done } }
            return .terminal(state.lock.withLock { live.record.group })
        }
        guard let (live, changed) = found else {
            let stored: GroupRecord?
            do { stored = try await store.group(id) } catch { throw .storeUnavailable("\(error)") }
            guard let stored else { throw .groupNotFound(id) }
            if let shared, stored.group.state == .running { return try await cancelGroupElsewhere(shared, stored) }
            return .terminal(stored.group)
        }
        logger.info("group cancel requested", metadata: ["group.id": "\(id)"])
        if let changed { await storeGroup(changed) }
        await cancelJobs(of: live, reason: .delete, error: nil)
        return .cancelling(state.lock.withLock { snapshot(live) })
    }

    // MARK: - Internals

    /// The group with the counts of its jobs' states now. Caller holds the engine lock.
    func snapshot(_ live: LiveGroup) -> JobGroup {
        var group = live.record.group
        var counts: [JobState: Int] = [:]
        for id in group.jobs {
            counts[live.terminal[id] ?? state.live[id]?.record.job.state ?? live.seen[id] ?? .queued, default: 0] += 1
        }
        group.counts = counts
        return group
    }

    /// Records that a job of a group is terminal. Caller holds the engine lock, in the same
    /// critical section that takes the job out of the table.
    func noteTerminal(_ job: Job) {
        guard let groupID = job.groupID, let group = state.groups[groupID] else { return }
        group.terminal[job.id] = job.state
    }

    /// After a job of a group became terminal (`noteTerminal`): with `fail_fast`, the first one
    /// that ended `failed` or `timed_out` cancels the others (reason `group`); the last one
    /// makes the group terminal.
    func jobEnded(_ job: Job) async {
        guard let groupID = job.groupID else { return }
        let failFast: (LiveGroup, GroupRecord)? = state.lock.withLock {
            guard let group = state.groups[groupID], job.state == .failed || job.state == .timedOut,
                  group.record.failedBy == nil, group.record.cancelRequestedAt == nil
            else { return nil }
            group.record.failedBy = job.id
            return (group, group.record)
        }
        if let (group, record) = failFast {
            await storeGroup(record)
            if record.group.failFast {
                logger.info("group: a job failed; cancelling the others", metadata: ["group.id": "\(groupID)", "job.id": "\(job.id)"])
                await cancelJobs(of: group, reason: .group, error: Outcome.siblingFailed(job.id))
            }
        }
        await finishGroupIfComplete(groupID)
    }

    /// Cancels every job of the group that is not terminal yet, under one lock acquisition:
    /// queued ones (also scheduled or in a retry backoff) are stored `cancelled` in one commit
    /// (cleanup `none`); running ones whose outcome is still open become `cancelling` (with
    /// `error` as their error when given) and get the signal ladder, then their cleanup, as by
    /// DELETE. Jobs whose outcome is decided are left alone.
    func cancelJobs(of group: LiveGroup, reason: GroupCancelReason, error: String?) async {
        let (id, ids, elsewhere): (String, [String], [String]) = state.lock.withLock {
            let ids = group.record.group.jobs
            // On a shared store, jobs of the group that other nodes hold or that wait in the store.
            let elsewhere = shared == nil ? [] : ids.filter { state.live[$0] == nil && group.terminal[$0] == nil }
            return (group.record.id, ids, elsewhere)
        }
        if let shared, !elsewhere.isEmpty { await cancelElsewhere(shared, elsewhere, reason: reason, error: error) }
        await cancelLocalJobs(ids, groupID: id, reason: reason, error: error)
    }

    /// Cancels the jobs of `ids` this node holds (see `cancelJobs`), then finishes the group
    /// `groupID` when that made it complete (when this node holds it).
    func cancelLocalJobs(_ ids: [String], groupID: String, reason: GroupCancelReason, error: String?) async {
        let now = Timestamp.now()
        let (queued, stops): ([(LiveJob, JobRecord, [JobEvent])], [(LiveJob, JobWrite, Double)]) = state.lock.withLock {
            var queued: [(LiveJob, JobRecord, [JobEvent])] = []
            var stops: [(LiveJob, JobWrite, Double)] = []
            for id in ids {
                guard let live = state.live[id] else { continue }
                switch live.phase {
                case .queued:
                    state.dequeue(live)
                    live.phase = .cancellingQueued
                    var record = live.record
                    record.job = live.currentJob
                    record.job.state = .cancelled
                    record.job.cancelRequestedAt = now
                    record.job.finishedAt = now
                    record.job.cleanup = CleanupStatus(state: .none)
                    record.job.error = error
                    note(live, .cancelRequested, at: now, [.init("reason", .string(reason.rawValue))])
                    note(live, .finished, at: now, [.init("state", .string(JobState.cancelled.rawValue))])
                    live.ending = record
                    queued.append((live, record, takeEvents(live)))
                case .running:
                    guard let (_, grace) = beginCancelling(live, grace: nil, reason: reason.rawValue) else { continue }
                    if let error { live.outcome = Outcome(state: .cancelled, error: error) }
                    stops.append((live, takeWrite(live), grace))
                case .cancellingQueued, .recovering, .finished:
                    continue
                }
            }
            return (queued, stops)
        }
        for (live, _, grace) in stops {
            metrics.moved(from: .running, to: .cancelling)
            live.watch.requestStop(grace: grace)
        }
        logger.info("group: cancelling its jobs", metadata: [
            "group.id": "\(groupID)", "reason": "\(reason.rawValue)", "queued": "\(queued.count)", "running": "\(stops.count)",
        ])
        // The `cancelling` records, in each job's write order (durable, as by DELETE), while the
        // queued ones are stored `cancelled` in one commit.
        await withDiscardingTaskGroup { group in
            for (live, write, _) in stops {
                group.addTask { await self.storeInTurn(live, write, logger: self.logger) }
            }
            guard !queued.isEmpty else { return }
            await storeDurably("cancelled queued jobs of a group", logger: logger) {
                try await store.updateAll(queued.map { ($0.1, $0.2) })
            }
        }
        guard !queued.isEmpty else { return }
        state.lock.withLock {
            for (live, record, events) in queued {
                live.record = record
                live.events.removeAll { events.contains($0) }
                live.phase = .finished
                state.live[record.id] = nil
                noteTerminal(record.job)
            }
        }
        for (live, _, _) in queued {
            metrics.moved(from: .queued, to: .cancelled)
            metrics.finished[.cancelled]?.increment()
            metrics.cancelLatency.recordNanoseconds(0)
            live.changes.broadcast()
        }
        changes.broadcast()
        await finishGroupIfComplete(groupID)
    }

    /// Once every job of the group is terminal: stores its final state, counts and
    /// `finished_at`, then reports it terminal. Runs once per group.
    func finishGroupIfComplete(_ id: String) async {
        let final: (LiveGroup, GroupRecord)? = state.lock.withLock {
            guard let group = state.groups[id], group.isComplete, !group.finishing else { return nil }
            group.finishing = true
            var record = group.record
            record.group = snapshot(group)
            record.group.state = group.finalState
            record.group.finishedAt = .now()
            return (group, record)
        }
        guard let (group, record) = final else { return }
        await storeGroup(record)
        state.lock.withLock {
            group.record = record
            group.done = true
            state.groups[id] = nil
        }
        group.changes.broadcast()
        logger.info("group finished", metadata: ["group.id": "\(id)", "state": "\(record.group.state.rawValue)"])
    }

    /// Stores the group's record durably (`storeDurably`: retried until the store takes it).
    /// Not cancellable.
    private func storeGroup(_ record: GroupRecord) async {
        await storeDurably("group record (\(record.group.state.rawValue))", logger: logger) {
            try await store.updateGroup(record)
        }
    }

    // MARK: - Recovery

    /// Reads the running groups and their jobs' states (before the engine accepts work). A group
    /// whose failure or DELETE was recorded (or whose first failed job was stored but not yet
    /// noted in the group) has its cancel fan-out resumed by `resumeGroups`.
    func recoverGroups() async throws(EngineError) -> [LiveGroup] {
        var recovered: [LiveGroup] = []
        do {
            for record in try await store.unfinishedGroups() {
                let jobs = try await store.list(JobQuery(limit: record.group.jobs.count + 1, groupID: record.id))
                var terminal: [String: JobState] = [:]
                for job in jobs where job.state.isTerminal { terminal[job.id] = job.state }
                let live = LiveGroup(record: record, terminal: terminal)
                if record.failedBy == nil, record.cancelRequestedAt == nil,
                   let first = jobs.filter({ $0.state == .failed || $0.state == .timedOut }).min(by: { ($0.job.finishedAt ?? .now()) < ($1.job.finishedAt ?? .now()) }) {
                    live.record.failedBy = first.id
                }
                recovered.append(live)
            }
        } catch { throw .storeUnavailable("\(error)") }
        state.lock.withLock {
            for group in recovered { state.groups[group.record.id] = group }
        }
        return recovered
    }

    /// Resumes what recovered groups were doing when the server stopped: the cancel fan-out of a
    /// failed (fail_fast) or deleted group, and the final record of a complete one.
    func resumeGroups(_ groups: [LiveGroup]) async {
        for group in groups {
            let record = state.lock.withLock { group.record }
            if record.group.failFast, let failed = record.failedBy {
                await storeGroup(record)
                await cancelJobs(of: group, reason: .group, error: Outcome.siblingFailed(failed))
            } else if record.cancelRequestedAt != nil {
                await cancelJobs(of: group, reason: .delete, error: nil)
            }
            await finishGroupIfComplete(record.id)
        }
    }
}
