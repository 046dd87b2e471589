import JobsdAPI
import JobsdStore

extension JobEngine {
    // MARK: - Output

    /// The job's output from `cursor` (nil: the oldest kept byte): both streams interleaved in
    /// arrival order, or only `stream`. `truncated` says older bytes were dropped by the cap.
    /// Logs of finished jobs are read from disk (also after a restart). Throws `.notFound` for an
    /// unknown job, `.noSuchAttempt` for an `attempt` it has not reached.
    ///
    /// Attempts (retries) each have their own log. `attempt` picks one; nil: the cursor's, or
    /// without a cursor the latest attempt that started (during a backoff, the one that just
    /// failed). Reading on from a cursor without `attempt` follows the job into its next attempt
    /// once the cursor's attempt has no more output; `jobTerminal` then means the job is
    /// terminal, with an `attempt` that this attempt is over.
    public func readLogs(_ id: String, attempt: Int? = nil, stream: LogStream?, from cursor: LogCursor?) async throws(EngineError) -> LogChunk {
        let live: (log: JobLog?, job: Job)? = state.lock.withLock {
            guard let live = state.live[id] else { return nil }
            return (live.log, live.currentJob)
        }
        let job: Job
        if let live { job = live.job } else {
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
            let log = target == job.attempt && live?.log != nil ? live?.log
                : JobLog.open(dataDirectory: configuration.dataDirectory, id: JobLog.attemptID(id, attempt: target))
            let slice = log?.read(stream: stream, from: from)
            let bytes = slice?.bytes ?? []
            // Without an explicit attempt, a finished attempt with nothing left leads on to the next.
            if attempt == nil, cursor != nil, bytes.isEmpty, over, target < started {
                target += 1
                from = nil
                continue
            }
            let next = LogCursor(attempt: target, offset: slice?.next ?? from ?? 0)
            return LogChunk(bytes: bytes, truncated: slice?.truncated ?? false, next: next, jobTerminal: terminal)
        }
    }

    /// Suspends until the job's output grows past `cursor` (or its next attempt writes), the job
    /// becomes terminal or moves to its next attempt (or is not in memory: already terminal, or
    /// unknown), `timeout` passes, or the task is cancelled.
    public func waitForLogs(_ id: String, after cursor: LogCursor, timeout: Double) async {
        guard let live = state.lock.withLock({ state.live[id] }) else { return }
        await live.changes.wait(timeout: timeout) { [self] in
            state.lock.withLock {
                let end = live.log?.endOffset ?? 0
                return live.phase == .finished || (live.record.job.attempt == cursor.attempt ? end > cursor.offset : end > 0)
            }
        }
    }
}
