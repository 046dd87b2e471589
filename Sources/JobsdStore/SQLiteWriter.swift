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
/// After a commit, and before any caller resumes, the batch's changes go to the record cache.
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
    private let cache: SQLiteRecordCache
    private var lastBatchSize = 0
    private var lastCommitDuration = Duration.zero

    /// Every committed batch is applied to `cache` before its callers resume.
    init(connection: SQLiteConnection, cache: SQLiteRecordCache, logger: Logger) {
        self.connection = connection
        self.cache = cache
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

    /// Commits batches until no write arrives within a gather window after a commit.
    ///
    /// Each batch gathers until it has as many writes as the previous one (those callers are being
    /// resumed and tend to write again) or until a quarter of the previous commit's duration
    /// (at most 5 ms) has passed since that commit; writes that arrive meanwhile are already
    /// applied inside the open transaction. A little latency buys fewer, fuller fsyncs.
    private func drain() {
        let clock = ContinuousClock()
        while true {
            let window = lastBatchSize > 0 ? min(lastCommitDuration / 4, .milliseconds(5)) : .zero
            let deadline = SQLiteWriteQueue<Pending>.Deadline(after: window)
            let first = pending.take(until: deadline, endingDrainIfEmpty: true)
            guard !first.isEmpty else { break }
            let started = clock.now
            lastBatchSize = commit(first, gatheringUntil: deadline)
            lastCommitDuration = clock.now - started
        }
        lastBatchSize = 0
    }

    /// Runs `first` and whatever else arrives before `deadline` (while fewer than the previous
    /// batch) in one transaction, commits, then resumes every caller. Returns the batch size.
    private func commit(_ first: [Pending], gatheringUntil deadline: SQLiteWriteQueue<Pending>.Deadline) -> Int {
        var batch = first  // every write taken so far: on failure each of them gets its answer
        var outcomes: [Result<SQLiteWriteOutcome, JobStoreError>] = []
        do {
            try connection.run("BEGIN IMMEDIATE")
            var incoming = first
            while !incoming.isEmpty {
                for item in incoming { outcomes.append(try apply(item.write)) }
                incoming = batch.count < lastBatchSize ? pending.take(until: deadline, endingDrainIfEmpty: false) : []
                batch += incoming
            }
            try connection.run("COMMIT")
        } catch {
            if !connection.isAutocommit { try? connection.run("ROLLBACK") }
            let failure = (error as? SQLiteError)?.storeError ?? (error as? JobStoreError) ?? .unavailable("\(error)")
            logger.error("commit failed; the batch was rolled back", metadata: [
                "store.error": "\(failure)", "store.batch": "\(batch.count)",
            ])
            for item in batch { item.continuation.resume(throwing: failure) }
            return batch.count
        }
        cache.committed(zip(batch, outcomes).compactMap { item, outcome in
            switch (item.write, outcome) {
            case let (.insert(job), .success(.insert(.inserted))), let (.update(job), .success(.updated)): .stored(job.record)
            case let (.purge, .success(.purged(ids))): ids.isEmpty ? nil : .removed(ids)
            default: nil
            }
        })
        for (item, outcome) in zip(batch, outcomes) { item.continuation.resume(with: outcome) }
        return batch.count
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
