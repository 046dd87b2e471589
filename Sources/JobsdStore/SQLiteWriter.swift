import Dispatch
import JobsdAPI
import Logging

/// A change to the database, committed by `SQLiteWriter`.
enum SQLiteWrite: Sendable {
    case insert(SQLiteEncodedJob)
    case update(SQLiteEncodedJob)
    case purge(finishedBefore: Timestamp)
}

/// The answer to one `SQLiteWrite`, delivered after its transaction committed.
enum SQLiteWriteOutcome: Sendable {
    case insert(InsertResult)
    case updated
    case purged([String])
}

/// Group commit. Callers queue writes; one serial queue owns the write connection and repeatedly
/// takes every write queued so far, runs them in one `BEGIN IMMEDIATE … COMMIT` (one WAL fsync
/// with `synchronous=FULL`), and only then resumes each caller with its own outcome.
///
/// Each write runs in its own SAVEPOINT, so a write that fails by itself (unknown id, constraint)
/// fails alone. A failure of the transaction as a whole (disk full, I/O error, lock timeout) rolls
/// it back and fails every write of the batch with `JobStoreError.unavailable`; the next batch
/// starts afresh, so the store works again once the condition clears. A caller's cancellation
/// does not withdraw its write: it is committed (or fails) with its batch.
final class SQLiteWriter: @unchecked Sendable {
    // `connection`, `lastBatchSize` and `lastCommitDuration` are used only on `queue`; `pending` is
    // thread-safe.
    private struct Pending {
        let write: SQLiteWrite
        let continuation: CheckedContinuation<SQLiteWriteOutcome, any Error>
    }

    private let connection: SQLiteConnection
    private let queue = DispatchQueue(label: "jobsd.store.sqlite.writer")
    private let logger: Logger
    private let pending = SQLiteWriteQueue<Pending>()
    private var lastBatchSize = 0
    private var lastCommitDuration = Duration.zero

    init(connection: SQLiteConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Returns once `write` is committed durably, or throws `JobStoreError` (`unavailable` when the
    /// store is closed or the commit failed, `notFound` for an update of an unknown job).
    func perform(_ write: SQLiteWrite) async throws -> SQLiteWriteOutcome {
        try await withCheckedThrowingContinuation { continuation in
            switch pending.append(Pending(write: write, continuation: continuation)) {
            case .closed: continuation.resume(throwing: JobStoreError.unavailable("store is closed"))
            case .queuedStartDrain: queue.async { self.drain() }
            case .queued: break
            }
        }
    }

    /// Refuses new writes, commits those already queued, checkpoints the WAL into the database
    /// file and closes the connection. Safe to call more than once.
    func close() async {
        pending.close()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.drain()
                if self.connection.isOpen {
                    do { try self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)") } catch {
                        self.logger.warning("WAL checkpoint at close failed", metadata: ["store.error": "\(error)"])
                    }
                    self.connection.close()
                }
                continuation.resume()
            }
        }
    }

    // MARK: - Batches (on `queue`)

    /// Commits batches until the queue stays empty through a gather window. Before each batch the
    /// writer waits until as many writes are queued as the previous batch had (its callers are
    /// being resumed and tend to write again), but at most a quarter of the previous commit's
    /// duration (capped at 5 ms): a little latency buys fewer, fuller fsyncs.
    private func drain() {
        let clock = ContinuousClock()
        while let batch = pending.takeBatch(
            expecting: lastBatchSize, window: min(lastCommitDuration / 4, .milliseconds(5))
        ) {
            lastBatchSize = batch.count
            lastCommitDuration = clock.measure { commit(batch) }
        }
        lastBatchSize = 0
    }

    private func commit(_ batch: [Pending]) {
        var outcomes: [Result<SQLiteWriteOutcome, JobStoreError>] = []
        outcomes.reserveCapacity(batch.count)
        do {
            try connection.run("BEGIN IMMEDIATE")
            for item in batch { outcomes.append(try apply(item.write)) }
            try connection.run("COMMIT")
        } catch {
            if !connection.isAutocommit { try? connection.run("ROLLBACK") }
            let failure = (error as? SQLiteError)?.storeError ?? (error as? JobStoreError) ?? .unavailable("\(error)")
            logger.error("commit failed; the batch was rolled back", metadata: [
                "store.error": "\(failure)", "store.batch": "\(batch.count)",
            ])
            for item in batch { item.continuation.resume(throwing: failure) }
            return
        }
        for (item, outcome) in zip(batch, outcomes) { item.continuation.resume(with: outcome) }
    }

    /// Runs one write in a savepoint. Returns its own failure when only this write is affected;
    /// throws when the whole transaction must be abandoned.
    private func apply(_ write: SQLiteWrite) throws -> Result<SQLiteWriteOutcome, JobStoreError> {
        try connection.run("SAVEPOINT write")
        do {
            let outcome: SQLiteWriteOutcome = switch write {
            case let .insert(record): .insert(try connection.insertJob(record))
            case let .update(record): try { try connection.updateJob(record); return .updated }()
            case let .purge(cutoff): .purged(try connection.purgeJobs(finishedBefore: cutoff))
            }
            try connection.run("RELEASE write")
            return .success(outcome)
        } catch let error as SQLiteError where !error.isStatementLocal {
            throw error
        } catch {
            guard !connection.isAutocommit else { throw error }  // SQLite already ended the transaction
            try connection.run("ROLLBACK TO write")
            try connection.run("RELEASE write")
            return .failure((error as? JobStoreError) ?? (error as? SQLiteError)?.storeError ?? .unavailable("\(error)"))
        }
    }
}
