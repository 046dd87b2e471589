import JobsdAPI
import JobsdStore

extension JobEngine {
    // MARK: - Output

    /// The job's output from `cursor` (nil: the oldest kept byte): both streams interleaved in
    /// arrival order, or only `stream`. `truncated` says older bytes were dropped by the cap.
    /// Output is read from where the store keeps it (`logs`): the data dir's files (also after a
    /// restart), or the database shared by several nodes, whichever node ran the job. Throws
    /// `.notFound` for an unknown job, `.storeUnavailable` when the output cannot be read.
    public func readLogs(_ id: String, stream: LogStream?, from cursor: LogCursor?) async throws(EngineError) -> LogChunk {
        let live: (log: (any OpenJobLog)?, found: Bool) = state.lock.withLock {
            guard let live = state.live[id] else { return (nil, false) }
            return (live.log, true)
        }
        let terminal: Bool
        if live.found {
            terminal = false
        } else {
            // The state before the output: a job seen terminal has all of its output stored.
            let record: JobRecord?
            do { record = try await store.get(id) } catch { throw .storeUnavailable("\(error)") }
            guard let record else { throw .notFound(id) }
            terminal = record.state.isTerminal
        }
        let slice: JobLogSlice
        do {
            if let log = live.log {
                slice = try await log.read(stream: stream, from: cursor?.offset)
            } else {
                slice = try await logs.read(id, stream: stream, from: cursor?.offset)
            }
        } catch { throw .storeUnavailable("\(error)") }
        return LogChunk(bytes: slice.bytes, truncated: slice.truncated, next: LogCursor(offset: slice.next), jobTerminal: terminal)
    }

    /// Suspends until the job's output grows past `cursor`, the job becomes terminal, `timeout`
    /// passes, or the task is cancelled. For a job this node does not hold — terminal, unknown,
    /// or running on another node of a shared store, whose output arrives in the database — it
    /// waits `remotePoll` seconds (a shared store) or not at all.
    public func waitForLogs(_ id: String, after cursor: LogCursor, timeout: Double) async {
        guard let live = state.lock.withLock({ state.live[id] }) else {
            if shared != nil { await AsyncCondition.sleep(min(timeout, Self.remotePoll)) }
            return
        }
        await live.changes.wait(timeout: timeout) { [self] in
            state.lock.withLock {
                live.phase == .finished || (live.log?.endOffset ?? 0) > cursor.offset
            }
        }
    }

    /// How often a follower of a job running on another node reads the database for new output:
    /// with batches stored every `PostgresJobLog.interval` (0.2 s), output shows within about
    /// half a second.
    static let remotePoll = 0.25
}
