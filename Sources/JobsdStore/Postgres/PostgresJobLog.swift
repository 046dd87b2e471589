import Dispatch
import JobsdAPI
import JobsdMetrics

/// The output of one job running on this node, on its way into PostgreSQL (`PostgresJobLogs`) in
/// batches, so that a chatty job costs the database a few statements a second, not one a write:
/// `append` only copies the bytes into memory (it runs on the output loop's thread); a batch is
/// stored at most `interval` after its first byte, or at once once `batchBytes` wait, one
/// statement a batch and one batch of this job in flight at a time. Readers (on any node) see a
/// batch once it is committed; `onReadable` is called then.
///
/// The cap: the newest `maxBytes` are kept. Bytes waiting here are trimmed to the cap too, so
/// while the database cannot be reached a job holds at most `maxBytes` here, and a batch that
/// failed is tried again (after 0.5 s, doubling to 5 s) with what came since, without losing
/// anything the cap would keep. A batch the database refuses for good (the job was purged, or a
/// constraint) is dropped: its bytes are counted in `droppedBytes` (the job's
/// `log_dropped_bytes`) and `onDrop` hears when such drops begin and when a batch is stored again.
///
/// `close()` (before the job's final record is stored) waits until every byte appended before it
/// is stored; it is not cancellable and waits as long as the database is unreachable, as the
/// final record does. When the store is closed (shutdown), what waits is dropped.
///
/// Thread-safe: every `var` is guarded by `lock`.
final class PostgresJobLog: OpenJobLog, @unchecked Sendable {
    static let interval = 0.2
    static let batchBytes = 256 * 1024

    private struct Run {
        var stream: LogStream
        /// Logical offset one past the run's last byte.
        var end: UInt64
    }

    private struct Batch {
        var start: UInt64
        var bytes: [UInt8]
        var runs: [Run]
        var end: UInt64 { start + UInt64(bytes.count) }
    }

    private enum Outcome {
        case stored
        case retry(String)
        /// Refused for good; `logged`: worth a warning (not for a purged job or a closed store).
        case dropped(String, logged: Bool)

        var isStored: Bool {
            if case .stored = self { return true }
            return false
        }
    }

    private static let queue = DispatchQueue(label: "jobsd.store.postgres.output")

    private let id: String
    private let maxBytes: UInt64
    private let logs: PostgresJobLogs
    private let onReadable: @Sendable () -> Void
    private let onDrop: @Sendable (JobLogDrop) -> Void
    private let lock = PThreadLock()
    // MARK: guarded by `lock`
    /// Bytes not yet handed to the database, oldest first; they end at `appended`.
    private var pending: [UInt8] = []
    /// The stream runs of `pending` (the first may start before it: trimmed by the cap).
    private var pendingRuns: [Run] = []
    /// Logical offset one past the newest byte appended.
    private var appended: UInt64 = 0
    /// Logical offset one past the newest byte stored.
    private var stored: UInt64 = 0
    private var inFlight = false
    private var flushQueued = false
    private var retryDelay = 0.5
    private var writable = true
    /// Bytes of batches refused for good, in all; and that total when the current run of refusals
    /// began (nil while batches are stored).
    private var dropped: UInt64 = 0
    private var droppedBefore: UInt64?
    /// `close()` calls waiting for the pending bytes to be stored.
    private var closers: [CheckedContinuation<Void, Never>] = []

    init(
        id: String, maxBytes: Int, logs: PostgresJobLogs, onReadable: @escaping @Sendable () -> Void,
        onDrop: @escaping @Sendable (JobLogDrop) -> Void
    ) {
        self.id = id
        self.maxBytes = UInt64(max(maxBytes, 1))
        self.logs = logs
        self.onReadable = onReadable
        self.onDrop = onDrop
    }

    // MARK: - OpenJobLog

    func append(_ bytes: UnsafeRawBufferPointer, stream: LogStream) {
        guard !bytes.isEmpty else { return }
        lock.withLock {
            guard writable else { return }
            pending.append(contentsOf: bytes)
            appended += UInt64(bytes.count)
            if let last = pendingRuns.indices.last, pendingRuns[last].stream == stream {
                pendingRuns[last].end = appended
            } else {
                pendingRuns.append(Run(stream: stream, end: appended))
            }
            // Trimmed in steps of the cap, so that appends stay amortised O(1).
            if UInt64(pending.count) > 2 * maxBytes { trimToCap() }
            scheduleFlush(after: pending.count >= Self.batchBytes ? 0 : Self.interval)
        }
    }

    func read(stream: LogStream?, from: UInt64?) async throws -> JobLogSlice {
        try await logs.read(id, stream: stream, from: from)
    }

    var endOffset: UInt64 { lock.withLock { stored } }

    var keptBytes: Int64 { lock.withLock { Int64(min(appended, maxBytes)) } }

    var droppedBytes: Int64 { lock.withLock { Int64(dropped) } }

    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.withLock {
                writable = false
                guard inFlight || !pending.isEmpty else { return continuation.resume() }
                closers.append(continuation)
                scheduleFlush(after: 0)
            }
        }
    }

    // MARK: - Batches

    /// Queues a flush in `delay` seconds unless one is in flight (its end queues the next) or
    /// already queued (a `delay` of 0 is queued all the same). Caller holds `lock`.
    private func scheduleFlush(after delay: Double) {
        guard !inFlight, !flushQueued || delay == 0 else { return }
        flushQueued = true
        Self.queue.asyncAfter(deadline: .now() + delay) { [self] in flush() }
    }

    /// Keeps the newest `maxBytes` of `pending`. Caller holds `lock`.
    private func trimToCap() {
        guard UInt64(pending.count) > maxBytes else { return }
        pending.removeFirst(pending.count - Int(maxBytes))
        let start = appended - UInt64(pending.count)
        pendingRuns.removeAll { $0.end <= start }
    }

    /// Hands what waits to the database as one batch.
    private func flush() {
        let batch: Batch? = lock.withLock {
            flushQueued = false
            guard !inFlight, !pending.isEmpty else { return nil }
            trimToCap()
            defer {
                pending = []
                pendingRuns = []
                inFlight = true
            }
            return Batch(start: appended - UInt64(pending.count), bytes: pending, runs: pendingRuns)
        }
        guard let batch else { return }
        let keptFrom = batch.end > maxBytes ? batch.end - maxBytes : 0
        var runs: [String] = []
        var previous = batch.start
        for run in batch.runs {
            runs += [String(PostgresJobLogs.code(run.stream)), String(run.end - previous)]
            previous = run.end
        }
        let (job, attempt) = PostgresJobLogs.key(id)
        let parameters: [(any PostgresBindable)?] = [
            job, Int64(batch.start), Int64(batch.end), Int64(keptFrom), "{" + runs.joined(separator: ",") + "}",
            PostgresBytes(bytes: batch.bytes), attempt,
        ]
        let queued = logs.pool.enqueue { [self] connection in
            let outcome: Outcome
            do {
                _ = try connection.query(PostgresJobLogs.insertSQL, parameters)
                outcome = .stored
            } catch {
                outcome = Self.outcome(of: error)
            }
            finished(batch, outcome)
        }
        if !queued { finished(batch, .dropped("the store is closed", logged: false)) }  // shutting down
    }

    /// Whether a failed batch is worth trying again: not when the job is gone (foreign key), nor
    /// for data or integrity errors, which the next try would meet again.
    private static func outcome(of error: any Error) -> Outcome {
        guard let error = error as? PostgresError else { return .dropped("\(error)", logged: true) }
        guard let state = error.sqlState, !error.connectionLost else { return .retry("\(error)") }
        if state == PostgresError.foreignKeyViolation { return .dropped("the job is gone", logged: false) }
        if state.hasPrefix("22") || state.hasPrefix("23") || state.hasPrefix("42") { return .dropped("\(error)", logged: true) }
        return .retry("\(error)")
    }

    private func finished(_ batch: Batch, _ outcome: Outcome) {
        let (readable, resumed, failure, change): (Bool, [CheckedContinuation<Void, Never>], String?, JobLogDrop?) = lock.withLock {
            inFlight = false
            var failure: String?
            var change: JobLogDrop?
            switch outcome {
            case .stored:
                stored = batch.end
                retryDelay = 0.5
                if let before = droppedBefore {
                    change = .ended(bytes: dropped - before)
                    droppedBefore = nil
                }
            case let .retry(why):
                // Back in front of what came since, within the cap.
                pending = batch.bytes + pending
                pendingRuns = batch.runs + pendingRuns
                trimToCap()
                if retryDelay == 0.5 { failure = why }  // the first of a series only: logged once
            case let .dropped(why, logged):
                if logged { failure = why }
                if droppedBefore == nil {
                    droppedBefore = dropped
                    change = .started(error: why)
                }
                dropped += UInt64(batch.bytes.count)
            }
            if !pending.isEmpty {
                if case .retry = outcome {
                    scheduleFlush(after: retryDelay)
                    retryDelay = min(retryDelay * 2, 5)
                } else {
                    scheduleFlush(after: writable && pending.count < Self.batchBytes ? Self.interval : 0)
                }
                return (outcome.isStored, [], failure, change)
            }
            defer { closers = [] }
            return (outcome.isStored, closers, failure, change)
        }
        if let failure {
            logs.logger.warning("storing job output failed", metadata: ["job.id": "\(id)", "error": "\(failure)"])
        }
        if let change { onDrop(change) }
        if readable { onReadable() }
        for closer in resumed { closer.resume() }
    }
}

