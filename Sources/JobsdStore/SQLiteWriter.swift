import Dispatch
import JobsdAPI
import Logging

/// A change to the database, committed by `SQLiteWriter`.
enum SQLiteWrite: Sendable {
    case insert(SQLiteEncodedJob)
    /// `synced: false`: the batch commits without the WAL's fsync unless another write of it
    /// needs one (`SQLiteJobStore.updateUnsynced`).
    case update(SQLiteEncodedJob, synced: Bool)
    case appendEvent(JobEvent, jobID: String)
    case claimDeliveries(owner: String, now: Timestamp, until: Timestamp, limit: Int)
    case settleDelivery(WebhookDelivery, owner: String, retryAt: Timestamp?, event: JobEvent)
    case releaseDeliveryClaims(owner: String)
    case purge(finishedBefore: Timestamp, limit: Int)
    /// A write that changes no job (`SQLiteJobStore.probeWrite`).
    case probe
    /// Several updates as one write: all or nothing.
    case updateAll([SQLiteEncodedJob])
    /// A group and its jobs: all or nothing.
    case insertGroup(GroupRecord, [SQLiteEncodedJob])
    case updateGroup(GroupRecord)
    case schedule(ScheduleChange)
}

extension SQLiteWrite {
    /// Whether its batch must reach the disk before its callers resume.
    var needsSync: Bool {
        if case let .update(_, synced) = self { return synced }
        return true
    }
}

/// The answer to one `SQLiteWrite`, delivered after its transaction committed.
enum SQLiteWriteOutcome: Sendable {
    case insert(InsertResult)
    case updated
    case appended(JobEvent)
    case claimed([WebhookDelivery])
    case settled(JobEvent?)
    case purged([String])
    /// Whether a schedule change changed a row.
    case changed(Bool)
}

/// Group commit. Callers queue writes; one serial queue owns the write connection and repeatedly
/// takes every write queued so far (never waiting for more; see `drain`), runs them in one
/// `BEGIN IMMEDIATE … COMMIT` (one WAL fsync with `synchronous=FULL`; none when every write of the
/// batch is an unsynced update), and only then resumes each caller with its own outcome.
///
/// After a commit, and before any caller resumes, the batch's changes go to the record cache.
///
/// Each write is all-or-nothing by itself (one statement, or several in a savepoint), so a write
/// that fails by itself (unknown id, constraint) fails alone. A failure of the transaction as a
/// whole (disk full, I/O error, lock timeout) rolls it back and fails every write of the batch
/// with `JobStoreError.unavailable`; the next batch starts afresh, so the store works again once
/// the condition clears. A caller's cancellation does not withdraw its write: it is committed (or
/// fails) with its batch.
final class SQLiteWriter: @unchecked Sendable {
    // `connection` is used only on `queue`; `pending` is thread-safe.
    private struct Pending {
        let write: SQLiteWrite
        let continuation: UnsafeContinuation<SQLiteWriteOutcome, any Error>
    }

    private let connection: SQLiteConnection
    private let queue = DispatchQueue(label: "jobsd.store.sqlite.writer")
    private let logger: Logger
    private let pending = SQLiteWriteQueue<Pending>()
    private let cache: SQLiteRecordCache
    /// The connection's `synchronous` setting: FULL, or NORMAL for a batch that needs no sync.
    private var synchronousFull = true
    /// Gets each commit's change-log entries.
    private let changeHandler = ChangeHandlerBox()

    func observeChanges(_ handler: @escaping @Sendable ([JobChange]) -> Void) { changeHandler.set(handler) }

    /// Every committed batch is applied to `cache` before its callers resume.
    init(connection: SQLiteConnection, cache: SQLiteRecordCache, logger: Logger) {
        self.connection = connection
        self.cache = cache
        self.logger = logger
    }

    /// Returns once `write` is committed durably, or throws `JobStoreError` (`unavailable` when the
    /// store is closed or the commit failed, `notFound` for an update of an unknown job).
    func perform(_ write: SQLiteWrite) async throws -> SQLiteWriteOutcome {
        try await withUnsafeThrowingContinuation { continuation in
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

    /// Commits batches until the queue is empty: each batch is every write queued when the previous
    /// commit ended, so a write that finds the writer idle commits at once, and under load the
    /// writes that arrive during one commit share the next.
    ///
    /// Decisions (measured with `jobsd-loadgen submit-rate`, 64 clients, 2 cores): the server is
    /// CPU-bound there, so CPU per write is what limits the rate, not the fsync.
    /// - No gather window. Waiting for stragglers woke this thread once per arriving write (a futex
    ///   wake and a context switch each), and a fixed 0.3 ms or 1 ms pause before each batch under
    ///   load halved the fsyncs but cut the rate by a quarter or more.
    /// - No fsync pipelined on a second thread (commit with `synchronous=OFF` semantics, sync the
    ///   WAL elsewhere): with no fsync at all the rate rose by under 10 %. And a failed fsync
    ///   could not be rolled back after such a commit: its job would stay visible (cache, reader)
    ///   while its caller got `unavailable`, which promises that nothing changed.
    private func drain() {
        while true {
            let batch = pending.take()
            guard !batch.isEmpty else { return }
            commit(batch)
        }
    }

    /// Runs `batch` in one transaction, commits, applies it to the cache, then resumes every
    /// caller.
    private func commit(_ batch: [Pending]) {
        var outcomes: [Result<SQLiteWriteOutcome, JobStoreError>] = []
        outcomes.reserveCapacity(batch.count)
        var changes: [JobChange] = []
        do {
            // NORMAL only when no write of the batch needs the fsync; the next FULL commit's fsync
            // of the WAL makes the frames written with NORMAL durable too.
            let full = batch.contains { $0.write.needsSync }
            if full != synchronousFull {
                try connection.run(full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
                synchronousFull = full
            }
            try connection.run("BEGIN IMMEDIATE")
            for item in batch { outcomes.append(try apply(item.write, changes: &changes)) }
            try connection.run("COMMIT")
        } catch {
            if !connection.isAutocommit { try? connection.run("ROLLBACK") }
            let failure = (error as? SQLiteError)?.storeError ?? (error as? JobStoreError) ?? .unavailable("\(error)")
            // Debug only: the engine logs a store fault once when it begins and once when it ends.
            logger.debug("commit failed; the batch was rolled back", metadata: [
                "store.error": "\(failure)", "store.batch": "\(batch.count)",
            ])
            for item in batch { item.continuation.resume(throwing: failure) }
            return
        }
        cache.committed(zip(batch, outcomes).flatMap { item, outcome -> [SQLiteCommittedChange] in
            switch (item.write, outcome) {
            case let (.insert(job), .success(.insert(.inserted))), let (.update(job, _), .success(.updated)): [.stored(job.boxed)]
            case let (.updateAll(jobs), .success), let (.insertGroup(_, jobs), .success): jobs.map { .stored($0.boxed) }
            case let (.purge, .success(.purged(ids))): ids.isEmpty ? [] : [.removed(ids)]
            default: []
            }
        })
        if !changes.isEmpty, let handler = changeHandler.get() { handler(changes) }
        for (item, outcome) in zip(batch, outcomes) { item.continuation.resume(with: outcome) }
    }

    /// Runs one write (all-or-nothing by itself; see `SQLiteConnection.insertJob`). Returns its own
    /// failure when only this write is affected; throws when the whole transaction must be
    /// abandoned.
    /// An insert, and an update that changes the job's state, append the job to the change log
    /// (with a statement that cannot fail by itself) and the entry to `changes`; an update that
    /// makes a job with `notify` terminal enqueues its webhook delivery.
    private func apply(_ write: SQLiteWrite, changes: inout [JobChange]) throws -> Result<SQLiteWriteOutcome, JobStoreError> {
        do {
            return switch write {
            case let .insert(record):
                try {
                    let result = try connection.insertJob(record)
                    if result == .inserted { changes.append(try connection.insertChange(of: record)) }
                    return .success(.insert(result))
                }()
            case let .update(record, _):
                try {
                    if let change = try connection.updateJobNotingChange(record) { changes.append(change) }
                    return .success(.updated)
                }()
            case let .appendEvent(event, id): .success(.appended(try connection.appendEvent(event, toJob: id)))
            case let .claimDeliveries(owner, now, until, limit):
                .success(.claimed(try connection.claimDeliveries(owner: owner, now: now, until: until, limit: limit)))
            case let .settleDelivery(delivery, owner, retryAt, event):
                .success(.settled(try connection.settleDelivery(delivery, owner: owner, retryAt: retryAt, event: event)))
            case let .releaseDeliveryClaims(owner): .success(try { try connection.releaseDeliveryClaims(owner: owner); return .updated }())
            case let .purge(cutoff, limit): .success(.purged(try connection.purgeJobs(finishedBefore: cutoff, limit: limit)))
            case .probe: .success(try { try connection.rewriteUserVersion(); return .updated }())
            case let .updateAll(records): .success(try { changes += try connection.updateJobs(records); return .updated }())
            case let .insertGroup(group, jobs): .success(try { changes += try connection.insertGroup(group, jobs: jobs); return .updated }())
            case let .updateGroup(group): .success(try { try connection.updateGroup(group); return .updated }())
            case let .schedule(change): .success(.changed(try connection.changeSchedule(change)))
            }
        } catch let error as SQLiteError where !error.isStatementLocal {
            throw error
        } catch {
            guard !connection.isAutocommit else { throw error }  // SQLite already ended the transaction
            return .failure((error as? JobStoreError) ?? (error as? SQLiteError)?.storeError ?? .unavailable("\(error)"))
        }
    }
}
