import JobsdAPI
import JobsdStore

extension JobEngine {
    // MARK: - Output

    /// The job's output from `cursor` (nil: the oldest kept byte): both streams interleaved in
    /// arrival order, or only `stream`. `truncated` says older bytes were dropped by the cap.
    /// Output is read from where the store keeps it (`logs`): the data dir's files (also after a
    /// restart), or the database shared by several nodes, whichever node ran the job. Throws
    /// `.notFound` for an unknown job, `.noSuchAttempt` for an `attempt` it has not reached,
    /// `.storeUnavailable` when the output cannot be read.
    ///
    /// Attempts (retries) each have their own log. `attempt` picks one; nil: the cursor's, or
    /// without a cursor the latest attempt that started (during a backoff, the one that just
    /// failed). Reading on from a cursor without `attempt` follows the job into its next attempt
    /// once the cursor's attempt has no more output; `jobTerminal` then means the job is
    /// terminal, with an `attempt` that this attempt is over.
    public func readLogs(_ id: String, attempt: Int? = nil, stream: LogStream?, from cursor: LogCursor?) async throws(EngineError) -> LogChunk {
        let live: (log: (any OpenJobLog)?, job: Job)? = state.lock.withLock {
            guard let live = state.live[id] else { return nil }
            return (live.log, live.currentJob)
        }
        let job: Job
        if let live { job = live.job } else {
            // The state before the output: a job seen terminal has all of its output stored.
            let record: JobRecord?
            do { record = try await store.get(id) } catch { throw .storeUnavailable("\(error)") }
            guard let record else { throw .notFound(id) }
            job = record.job
        }
        let started = job.state == .queued ? job.attempt - 1 : job.attempt
        if let attempt, attempt > job.attempt { throw .noSuchAttempt(id, attempt) }
        var target = attempt ?? cursor?.attempt ?? max(started, 1)
        var from = cursor?.attempt == target ? cursor?.offset : nil
        while true {
            let over = job.state.isTerminal || target < started || (target == started && job.state == .queued)
            let terminal = attempt == nil ? job.state.isTerminal : over
            let slice: JobLogSlice
            do {
                if target == job.attempt, let log = live?.log {
                    slice = try await log.read(stream: stream, from: from)
                } else {
                    slice = try await logs.read(JobLog.attemptID(id, attempt: target), stream: stream, from: from)
                }
            } catch { throw .storeUnavailable("\(error)") }
            // Without an explicit attempt, a finished attempt with nothing left leads on to the next.
            if attempt == nil, cursor != nil, slice.bytes.isEmpty, over, target < started {
                target += 1
                from = nil
                continue
            }
            let next = LogCursor(attempt: target, offset: slice.next)
            return LogChunk(bytes: slice.bytes, truncated: slice.truncated, next: next, jobTerminal: terminal)
        }
    }

    /// Suspends until the job's output grows past `cursor` (or its next attempt writes), the job
    /// becomes terminal or moves to its next attempt, `timeout` passes, or the task is cancelled.
    /// For a job this node does not hold — terminal, unknown, or running on another node of a
    /// shared store, whose output arrives in the database — it waits `remotePoll` seconds (a
    /// shared store) or not at all.
    public func waitForLogs(_ id: String, after cursor: LogCursor, timeout: Double) async {
        guard let live = state.lock.withLock({ state.live[id] }) else {
            if shared != nil { await AsyncCondition.sleep(min(timeout, Self.remotePoll)) }
            return
        }
        await live.changes.wait(timeout: timeout) { [self] in
            state.lock.withLock {
                let end = live.log?.endOffset ?? 0
                return live.phase == .finished || (live.record.job.attempt == cursor.attempt ? end > cursor.offset : end > 0)
            }
        }
    }

    /// How often a follower of a job running on another node reads the database for new output:
    /// with batches stored every `PostgresJobLog.interval` (0.2 s), output shows within about
    /// half a second.
    static let remotePoll = 0.25
}
