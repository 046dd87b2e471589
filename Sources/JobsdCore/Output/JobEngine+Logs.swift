import JobsdAPI
import JobsdStore

extension JobEngine {
    // MARK: - Output

    /// The job's output from `cursor` (nil: the oldest kept byte): both streams interleaved in
    /// arrival order, or only `stream`. `truncated` says older bytes were dropped by the cap.
    /// Logs of finished jobs are read from disk (also after a restart). Throws `.notFound`.
    public func readLogs(_ id: String, stream: LogStream?, from cursor: LogCursor?) async throws(EngineError) -> LogChunk {
        let live: (log: JobLog?, found: Bool) = state.lock.withLock {
            guard let live = state.live[id] else { return (nil, false) }
            return (live.log, true)
        }
        if live.found {
            guard let log = live.log else { return LogChunk(bytes: [], truncated: false, next: cursor ?? LogCursor(offset: 0), jobTerminal: false) }
            return chunk(log.read(stream: stream, from: cursor?.offset), terminal: false)
        }
        let record: JobRecord?
        do { record = try await store.get(id) } catch { throw .storeUnavailable("\(error)") }
        guard let record else { throw .notFound(id) }
        let terminal = record.state.isTerminal
        guard let log = JobLog.open(dataDirectory: configuration.dataDirectory, id: id) else {
            return LogChunk(bytes: [], truncated: false, next: cursor ?? LogCursor(offset: 0), jobTerminal: terminal)
        }
        return chunk(log.read(stream: stream, from: cursor?.offset), terminal: terminal)
    }

    private func chunk(_ slice: JobLogSlice, terminal: Bool) -> LogChunk {
        LogChunk(bytes: slice.bytes, truncated: slice.truncated, next: LogCursor(offset: slice.next), jobTerminal: terminal)
    }

    /// Suspends until the job's output grows past `cursor`, the job becomes terminal (or is not
    /// in memory: already terminal, or unknown), `timeout` passes, or the task is cancelled.
    public func waitForLogs(_ id: String, after cursor: LogCursor, timeout: Double) async {
        guard let live = state.lock.withLock({ state.live[id] }) else { return }
        await live.changes.wait(timeout: timeout) { [self] in
            state.lock.withLock {
                live.phase == .finished || (live.log?.endOffset ?? 0) > cursor.offset
            }
        }
    }
}
