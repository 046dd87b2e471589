import JobsdAPI
import JobsdStore

extension JobEngine {
    private enum CancelStep {
        case answer(CancelResult)
        case cancelQueued(LiveJob)
        case awaitQueuedCancel(LiveJob)
        case stop(LiveJob, JobWrite, grace: Double)
        case storeCancelling(LiveJob, JobWrite)
        case awaitCancelStored(LiveJob, Job, ticket: UInt64)
        case fromStore
    }

    /// Cancels a job (CONTRACT.md, "Cancelling"); idempotent.
    ///
    /// - queued: stored `cancelled` (durably) before returning; it never runs, cleanup `none`.
    /// - running: now `cancelling` (`cancelRequestedAt` set), stored durably before this returns
    ///   (a store failure is logged; the cancel goes on); the ladder then uses `grace` (nil: the
    ///   job's `grace_seconds`; a larger value does not lengthen it), then cleanup, then `cancelled`. Does not wait for that: use `wait`.
    /// - already cancelling: the same answer, once the `cancelling` record is stored.
    /// - already cancelled: the same answer again.
    /// - outcome already decided (the main process's exit, the deadline, or a spawn failure was
    ///   recorded first) or terminal: `.finished` with that outcome as `job.state`.
    /// - interrupted by the previous stop of the server and still being recovered: its outcome is
    ///   decided, so `.cancelling` for one that was `cancelling`, `.finished` (state `failed`) for
    ///   one that was `running`.
    /// - on a shared store, a job this node does not hold: a queued one nobody claimed is stored
    ///   `cancelled` here; otherwise the node that holds it is told (NOTIFY) and cancels it as
    ///   above, and the answer is what that node stored.
    /// Throws `.notFound` for an unknown id.
    ///
    /// `reason` goes into the timeline's `cancel_requested` event; `error`, when given, becomes
    /// the job's `error` (a schedule's `cancel_previous` says which run superseded it). A job
    /// another node holds gets the reason `delete` and no error.
    ///
    /// `wait` (`DELETE ?wait=`): a `.cancelling` answer waits up to `wait` seconds for the job to
    /// be terminal, and is then `.cancelled` with its terminal record (stored durably). A running
    /// job's `cancelling` record is then stored without waiting for the disk
    /// (`JobStore.updateUnsynced`; a crash of jobsd does not lose it): the terminal record's
    /// commit makes it durable, so a cancel costs one disk wait, not two. Should the wait end
    /// first, the answer waits until the store synced it (`JobStore.probeWrite`).
    public func cancel(
        _ id: String, grace: Double? = nil, reason: String = "delete", error: String? = nil, wait: Double? = nil
    ) async throws(EngineError) -> CancelResult {
        let waiting = (wait ?? 0) > 0
        let (result, unsynced) = try await requestCancel(id, grace: grace, reason: reason, error: error, unsynced: waiting)
        guard case let .cancelling(job) = result, let wait, waiting else { return result }
        let latest = try await self.wait(id, timeout: wait) ?? job
        if latest.state == .cancelled { return .cancelled(latest) }
        if unsynced {
            do { try await writeOnce("sync of the cancelling record") { try await store.probeWrite() } } catch {
                logger.warning("syncing the cancelling record failed; the cancel goes on", metadata: ["job.id": "\(id)", "error": "\(error)"])
            }
        }
        return .cancelling(latest)
    }

    /// `cancel` without the wait; `unsynced`: a running job's `cancelling` record may be stored
    /// unsynced. Returns whether it was.
    private func requestCancel(
        _ id: String, grace: Double?, reason: String, error: String?, unsynced: Bool
    ) async throws(EngineError) -> (CancelResult, unsynced: Bool) {
        let step: CancelStep = state.lock.withLock {
            guard let live = state.live[id] else { return .fromStore }
            switch live.phase {
            case .queued:
                live.phase = .cancellingQueued
                state.dequeue(live)
                return .cancelQueued(live)
            case .cancellingQueued:
                return .awaitQueuedCancel(live)
            case .finished:
                return .fromStore
            case .running, .recovering:
                if let outcome = live.outcome {
                    guard outcome.state == .cancelled else { return .answer(.finished(decidedJob(live, outcome))) }
                    if live.phase == .running, live.cancelWrite == 0 {
                        // Cancelled by shutdown; its task has not stored `cancelling` yet.
                        return .storeCancelling(live, takeWrite(live))
                    }
                    return .awaitCancelStored(live, live.currentJob, ticket: live.cancelWrite)
                }
                guard let grace = beginCancelling(live, grace: grace, reason: reason)?.grace else { return .fromStore }
                if let error { live.outcome = Outcome(state: .cancelled, error: error) }
                return .stop(live, takeWrite(live), grace: grace)
            }
        }
        switch step {
        case let .answer(result):
            return (result, false)
        case let .cancelQueued(live):
            return (try await cancelQueued(live, reason: reason, error: error), false)
        case let .awaitQueuedCancel(live):
            await live.changes.wait(timeout: 30) { [self] in state.lock.withLock { live.phase == .finished } }
            return try await requestCancel(id, grace: grace, reason: reason, error: error, unsynced: unsynced)
        case let .stop(live, write, grace):
            metrics.moved(from: .running, to: .cancelling)
            logger.info("cancel requested", metadata: ["job.id": "\(id)", "grace": "\(grace)"])
            // The ladder starts at once, while `cancelling` is being stored: stored before the
            // answer and before the terminal record (writes go in ticket order). A crash once it
            // is stored recovers the job as `cancelled`; one before, as `failed` (interrupted).
            live.watch.requestStop(grace: grace)
            var write = write
            write.synced = !unsynced
            await storeInTurn(live, write, logger: logger)
            return (.cancelling(write.record.job), unsynced)
        case let .storeCancelling(live, write):
            await storeInTurn(live, write, logger: logger)
            return (.cancelling(write.record.job), false)
        case let .awaitCancelStored(live, job, ticket):
            await live.writeTurns.wait(timeout: nil) { [self] in state.lock.withLock { live.writesDone >= ticket } }
            return (.cancelling(job), false)
        case .fromStore:
            let stored: JobRecord?
            do { stored = try await store.get(id) } catch { throw .storeUnavailable("\(error)") }
            guard let record = stored else { throw .notFound(id) }
            var job = record.job
            if let shared, !job.state.isTerminal {
                job = try await cancelElsewhere(shared, record, grace: grace)
            }
            switch job.state {
            case .cancelled: return (.cancelled(job), false)
            case .cancelling: return (.cancelling(job), false)
            default: return (.finished(job), false)
            }
        }
    }

    /// Decides `cancelled` for a running job whose outcome is open, moves it to `cancelling` and
    /// notes `cancel_requested` with `reason` (`delete`, `shutdown`). Caller holds the engine lock;
    /// it then calls `watch.requestStop` (outside the lock).
    func beginCancelling(_ live: LiveJob, grace: Double?, reason: String) -> (job: Job, grace: Double)? {
        guard live.outcome == nil, (try? live.record.job.move(to: .cancelling)) != nil else { return nil }
        live.outcome = .cancelled
        let now = Timestamp.now()
        live.record.job.cancelRequestedAt = now
        live.cancelRequestedAt = .now()
        note(live, .cancelRequested, at: now, [.init("reason", .string(reason))])
        // `?grace=` only shortens the job's own grace period, never lengthens it.
        return (live.currentJob, min(grace ?? live.record.job.graceSeconds, live.record.job.graceSeconds))
    }

    /// The job with its decided (not yet terminal) outcome filled in. Caller holds the engine lock.
    private func decidedJob(_ live: LiveJob, _ outcome: Outcome) -> Job {
        var job = live.currentJob
        job.state = outcome.state
        job.error = outcome.error
        if let status = live.watch.snapshot.status {
            job.exitCode = status.exitCode
            job.signal = status.signalName
        }
        return job
    }

    /// Stores a queued job as `cancelled` and forgets it. On a store failure it is queued again.
    private func cancelQueued(_ live: LiveJob, reason: String, error: String?) async throws(EngineError) -> CancelResult {
        let requested = MonotonicInstant.now()
        let now = Timestamp.now()
        let (record, events): (JobRecord, [JobEvent]) = state.lock.withLock {
            var record = live.record
            try? record.job.move(to: .cancelled)
            record.job.cancelRequestedAt = now
            record.job.finishedAt = now
            record.job.cleanup = CleanupStatus(state: .none)
            record.job.error = error
            note(live, .cancelRequested, at: now, [.init("reason", .string(reason))])
            note(live, .finished, at: now, [.init("state", .string(JobState.cancelled.rawValue))])
            live.ending = record
            return (record, takeEvents(live))
        }
        do {
            try await writeOnce("cancelled queued job") { try await store.update(record, events: events) }
        } catch {
            state.lock.withLock {
                // Still queued: its timeline goes back to where it was.
                live.events.removeAll { events.contains($0) }
                live.lastEventSeq -= events.count
                live.eventsTaken = live.lastEventSeq
                live.ending = nil
                live.phase = .queued
                state.enqueue(live)
            }
            changes.broadcast()
            throw .storeUnavailable("\(error)")
        }
        state.lock.withLock {
            live.record = record
            live.events.removeAll { events.contains($0) }
            live.phase = .finished
            state.live[record.id] = nil
            noteTerminal(record.job)
        }
        metrics.moved(from: .queued, to: .cancelled)
        metrics.finished[.cancelled]?.increment()
        metrics.cancelLatency.recordNanoseconds(requested.nanoseconds(until: .now()))
        live.changes.broadcast()
        logger.info("cancel requested", metadata: ["job.id": "\(record.id)", "state": "queued"])
        logger.info("job finished", metadata: ["job.id": "\(record.id)", "state": "cancelled"])
        await jobEnded(record.job)
        return .cancelled(record.job)
    }
}
