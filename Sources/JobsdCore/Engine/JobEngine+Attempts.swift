import Dispatch
import JobsdAPI
import JobsdStore
import Logging

extension JobEngine {
    // MARK: - The end of an attempt

    /// Stores the end of an attempt whose processes are gone and whose cleanup ran (`ended`: the
    /// record as it would be stored terminal; write number `ticket`), then reports it. When the
    /// job's retry policy retries this outcome and attempts remain (CONTRACT.md, "Retries"), the
    /// job goes back to `queued` instead: its finished attempt joins `attempts`, `attempt` + 1,
    /// `started_at`/`pid`/`exit_code`/`signal`/`error` null, `cleanup.state` `none`, and `run_at` = now (the
    /// end of the cleanup) + the backoff, during which it holds no slot; it keeps its id and a new
    /// `LiveJob` replaces this one in the table. Otherwise the job is terminal: stored durably
    /// before it is reported, then the group hears of it (`jobEnded`). Either way the slot of its
    /// key is freed, and the engine's when `countedRunning`. Not cancellable.
    func endAttempt(_ live: LiveJob, _ ended: JobRecord, ticket: UInt64, previous: JobState?, countedRunning: Bool, logger: Logger) async {
        let retry = Self.retry(ended, at: .now())
        let stored = retry?.record ?? ended
        await storeFinal(live, stored, ticket: ticket, logger: logger)

        let log = state.lock.withLock {
            live.record = stored
            live.phase = .finished
            if countedRunning {
                state.running -= 1
                state.claimWanted = true  // a slot is free: a shared store's claim loop looks again
            }
            state.admission.release(live)
            if let retry {
                let next = LiveJob(record: retry.record, phase: .queued)
                next.startAfter = DispatchTime.now().uptimeNanoseconds &+ AdmissionQueue.nanoseconds(retry.backoff)
                state.live[stored.id] = next
                state.enqueue(next)
            } else {
                state.live[stored.id] = nil
                noteTerminal(stored.job)
            }
            return live.log
        }
        log?.close()
        let job = ended.job
        if let started = job.startedAt, let finished = job.finishedAt { metrics.duration.observe(started.seconds(until: finished)) }
        if let retry {
            metrics.moved(from: previous, to: .queued)
            logger.info("job attempt ended; retry scheduled", metadata: [
                "state": "\(job.state.rawValue)", "attempt": "\(job.attempt)", "exit_code": "\(job.exitCode.map(String.init) ?? "null")",
                "error": "\(job.error ?? "null")", "backoff": "\(retry.backoff)",
            ])
        } else {
            metrics.moved(from: previous, to: job.state)
            metrics.finished[job.state]?.increment()
            if let requested = job.cancelRequestedAt, let finished = job.finishedAt {
                metrics.cancelLatency.observe(requested.seconds(until: finished))
            }
            logger.info("job finished", metadata: [
                "state": "\(job.state.rawValue)", "exit_code": "\(job.exitCode.map(String.init) ?? "null")",
                "signal": "\(job.signal ?? "null")", "error": "\(job.error ?? "null")", "attempt": "\(job.attempt)",
                "duration": "\(job.startedAt.map { $0.seconds(until: job.finishedAt ?? $0) } ?? 0)",
            ])
        }
        live.changes.broadcast()
        changes.broadcast()
        if retry == nil { await jobEnded(job) }
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
        next.processStartTicks = nil
        let backoff = policy.backoff(beforeAttempt: next.job.attempt)
        next.job.runAt = now.adding(seconds: backoff)
        return (next, backoff)
    }
}
