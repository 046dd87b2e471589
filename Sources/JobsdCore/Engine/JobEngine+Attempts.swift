import Dispatch
import JobsdAPI
import JobsdStore
import Logging

extension JobEngine {
    // MARK: - The end of an attempt

    /// How an attempt ends, decided in the critical section that takes the ended record
    /// (`ended`: the record as it would be stored terminal): when the job's retry policy retries
    /// this outcome and attempts remain (CONTRACT.md, "Retries"), the job goes back to `queued`
    /// (see `retry`) and the timeline gets `retry_scheduled` then `scheduled`, both with the new
    /// `run_at`; otherwise it gets `finished`. Returns the write to store and, for a retry, its
    /// backoff in seconds. The record to store becomes the job's `ending`. Caller holds the
    /// engine lock.
    func closeAttempt(_ live: LiveJob, _ ended: JobRecord) -> (write: JobWrite, backoff: Double?) {
        let closing = Self.closing(ended, at: ended.job.finishedAt ?? .now(), shared: shared != nil)
        for event in closing.events { note(live, event.type, at: event.at, event.fields) }
        live.ending = closing.record
        return (JobWrite(record: closing.record, ticket: issueWrite(live), events: takeEvents(live)), closing.backoff)
    }

    /// What follows an ended attempt (`ended`: terminal), at `endedAt`: the job queued again for
    /// its next attempt (`retry`) with `retry_scheduled` and `scheduled`, when its policy says so
    /// — on a shared store without an owner, waiting in the store for any node to claim (within
    /// its key's limit across nodes); otherwise `ended` itself with `finished`. The events are
    /// not numbered.
    static func closing(_ ended: JobRecord, at endedAt: Timestamp, shared: Bool) -> (record: JobRecord, events: [JobEvent], backoff: Double?) {
        guard var retry = retry(ended, at: endedAt), let runAt = retry.record.job.runAt else {
            return (ended, [JobEvent(.finished, at: endedAt, [.init("state", .string(ended.state.rawValue))])], nil)
        }
        if shared { retry.record.owner = nil }
        return (retry.record, [
            JobEvent(.retryScheduled, at: endedAt, [.init("attempt", .number(Double(retry.record.job.attempt))), .init("run_at", .string(runAt.description))]),
            JobEvent(.scheduled, at: endedAt, [.init("run_at", .string(runAt.description))]),
        ], retry.backoff)
    }

    /// Stores the end of an attempt whose processes are gone and whose cleanup ran (`ended`: the
    /// record as it would be stored terminal; `closing`: what `closeAttempt` decided), then
    /// reports it. A retried job is back in `queued`: its finished attempt in `attempts`,
    /// `attempt` + 1, `started_at`/`pid`/`exit_code`/`signal`/`error` null, `cleanup.state`
    /// `none`, `run_at` = the end of the cleanup + the backoff, during which it holds no slot; it
    /// keeps its id and a new `LiveJob` (continuing its timeline) replaces this one in the table;
    /// on a shared store it waits in the store instead, unclaimed, for any node's claim.
    /// Otherwise the job is terminal: stored durably (`storeInTurn`) before it is reported, then
    /// the group hears of it (`jobEnded`). Either way the slot of its key is freed, and the
    /// engine's when `countedRunning`. Not cancellable: it awaits only the store's durable write.
    func endAttempt(_ live: LiveJob, _ ended: JobRecord, _ closing: (write: JobWrite, backoff: Double?), previous: JobState?, countedRunning: Bool, logger: Logger) async {
        let stored = closing.write.record
        await storeInTurn(live, closing.write, logger: logger)

        let endedAt = MonotonicInstant.now()
        let (started, cancelRequested) = state.lock.withLock {
            live.record = stored
            live.phase = .finished
            if countedRunning {
                state.running -= 1
                state.claimWanted = true  // a slot is free: a shared store's claim loop looks again
            }
            state.admission.release(live)
            if let backoff = closing.backoff, shared == nil {
                let next = LiveJob(record: stored, phase: .queued, submittedAt: endedAt, lastEventSeq: live.lastEventSeq)
                next.startAfter = endedAt.nanoseconds &+ AdmissionQueue.nanoseconds(backoff)
                state.live[stored.id] = next
                state.enqueue(next)
            } else if closing.backoff != nil {
                state.live[stored.id] = nil  // it waits in the shared store
            } else {
                state.live[stored.id] = nil
                noteTerminal(stored.job)
            }
            return (live.startedAt, live.cancelRequestedAt)
        }
        let job = ended.job
        if let started { metrics.duration.recordNanoseconds(started.nanoseconds(until: endedAt)) }
        if let backoff = closing.backoff {
            if shared != nil, let runAt = stored.job.runAt {
                state.lock.withLock { state.claimWanted = true }
                wakeClaims(at: runAt)
            }
            metrics.moved(from: previous, to: .queued)
            logger.info("job attempt ended; retry scheduled", metadata: [
                "state": "\(job.state.rawValue)", "attempt": "\(job.attempt)", "exit_code": "\(job.exitCode.map(String.init) ?? "null")",
                "error": "\(job.error ?? "null")", "backoff": "\(backoff)",
            ])
        } else {
            metrics.moved(from: previous, to: job.state)
            metrics.finished[job.state]?.increment()
            if let cancelRequested { metrics.cancelLatency.recordNanoseconds(cancelRequested.nanoseconds(until: endedAt)) }
            logger.info("job finished", metadata: [
                "state": "\(job.state.rawValue)", "exit_code": "\(job.exitCode.map(String.init) ?? "null")",
                "signal": "\(job.signal ?? "null")", "error": "\(job.error ?? "null")", "attempt": "\(job.attempt)",
                "duration": "\(job.startedAt.map { $0.seconds(until: job.finishedAt ?? $0) } ?? 0)",
            ])
        }
        live.changes.broadcast()
        changes.broadcast()
        if closing.backoff == nil { await jobEnded(job) }
    }

    /// The store's commit hook, called after each commit that logged `changes` and before they
    /// are published (`ChangeFeed`: `GET /v1/events`, webhooks), one call at a time: a job whose
    /// `ending` was just committed shows it from now on (`LiveJob.currentJob`: GET, lists),
    /// although `endAttempt` has not taken it out of the table yet (`wait` returns once it has). So a client that reads the job back
    /// the moment it hears of the change never sees it older than the change. Only the ending
    /// write can log its state for a job in the table: its other writes are `running` or
    /// `cancelling`, and its submission is logged before it enters the table. Never blocks
    /// beyond the engine lock.
    func committed(_ changes: [JobChange]) {
        guard changes.contains(where: { $0.state.isTerminal || $0.state == .queued }) else { return }
        state.lock.withLock {
            for change in changes {
                guard let live = state.live[change.jobID], live.ending?.state == change.state else { continue }
                live.endCommitted = true
            }
        }
    }

    /// The job back in the queue for its next attempt, and its backoff, when `ended` (terminal) is
    /// retried; nil otherwise. Its finished attempt moves to `attempts`; `started_at` is null
    /// again until the next attempt starts. The backoff counts from `now`.
    static func retry(_ ended: JobRecord, at now: Timestamp) -> (record: JobRecord, backoff: Double)? {
        let job = ended.job
        guard let policy = job.retry, policy.retries(job.state, afterAttempt: job.attempt) else { return nil }
        var next = ended
        if let finished = job.endedAttempt { next.job.attempts.append(finished) }
        next.job.state = .queued
        next.job.attempt += 1
        next.job.startedAt = nil
        next.job.pid = nil
        next.job.exitCode = nil
        next.job.signal = nil
        next.job.error = nil
        next.job.finishedAt = nil
        next.job.cancelRequestedAt = nil
        next.job.cleanup = CleanupStatus(state: .none)
        next.job.logBytes = 0
        next.job.logDroppedBytes = 0
        next.processStartTicks = nil
        let backoff = policy.backoff(beforeAttempt: next.job.attempt)
        next.job.runAt = now.adding(seconds: backoff)
        return (next, backoff)
    }
}
