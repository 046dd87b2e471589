import JobsdAPI

/// Result of `JobStore.insert`.
public enum InsertResult: Sendable, Equatable {
    /// The record was stored durably.
    case inserted
    /// A job with the same idempotency key exists; nothing was stored.
    case existing(JobRecord)
}

/// Errors a store reports. `unavailable` covers disk full, I/O errors and a closed store; the API
/// answers 503 for it and the submission is not acknowledged.
public enum JobStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case unavailable(String)
    /// The database was written by a newer jobsd (schema version `found` > `supported`).
    case unsupportedSchema(found: Int, supported: Int)
    case notFound(String)
    /// `insert` of an id that is already stored: a programming error (ids are unique ULIDs); the
    /// stored job is left unchanged.
    case duplicateID(String)
    /// `update` of a job whose claim another node took over (its fencing token is not the stored
    /// one); nothing was stored. The node must stop the job's processes at once.
    case leaseLost(String)

    public var description: String {
        switch self {
        case let .unavailable(why): "store unavailable: \(why)"
        case let .unsupportedSchema(found, supported):
            "database schema version \(found) is newer than this jobsd supports (\(supported)); upgrade jobsd"
        case let .notFound(id): "no job \(id)"
        case let .duplicateID(id): "a job with id \(id) is already stored"
        case let .leaseLost(id): "job \(id) was taken over by another node (its lease was lost)"
        }
    }
}

/// Durable storage of job records. Every method that writes returns only after the change is
/// durable (committed and synced); concurrent writers may share one commit (group commit).
///
/// The protocol avoids SQLite-isms so that a PostgreSQL implementation can follow: records carry
/// an `owner` for leases, listing is cursor-based on ids.
public protocol JobStore: Sendable {
    /// Stores a new job. When `record.idempotencyKey` is set and a stored job has the same key,
    /// stores nothing and returns `.existing` with that job. Otherwise, when a job with the same id
    /// is stored, throws `duplicateID` and changes nothing (every implementation; never overwrites).
    ///
    /// `events` (numbered by the caller, `seq` from 1) start the job's timeline, in the same
    /// transaction: stored exactly when the record is.
    func insert(_ record: JobRecord, events: [JobEvent]) async throws -> InsertResult
    /// Replaces the stored record with the same id and appends `events` (numbered by the caller,
    /// continuing the job's timeline) to its timeline in the same transaction; an event whose
    /// `seq` is stored already is left as it is.
    func update(_ record: JobRecord, events: [JobEvent]) async throws
    /// `update`, but the store may return before the write reached the disk: it survives a crash
    /// of jobsd (`kill -9`), not one of the machine, until the store's next synced write (any
    /// other write, or `probeWrite`), which makes it durable too. For a record that a synced
    /// write follows within moments anyway (a `cancelling` record, before its terminal one).
    func updateUnsynced(_ record: JobRecord, events: [JobEvent]) async throws
    /// Appends one event to the timeline of a stored job, numbered by the store (the next `seq`),
    /// and returns it as stored; for what happens after a job is terminal (webhook delivery).
    /// Throws `notFound` for an unknown job.
    func appendEvent(_ event: JobEvent, to id: String) async throws -> JobEvent
    /// The job's timeline, oldest first; empty for an unknown job.
    func events(of id: String) async throws -> [JobEvent]
    /// Every insert, and every update that changes a job's state, also appends a `JobChange` to
    /// the store's change log in the same transaction; `handler` gets the changes of each commit,
    /// numbered, in commit order, after they are durable and visible to `changes(after:limit:)`.
    /// Set once, before the first write.
    func observeChanges(_ handler: @escaping @Sendable ([JobChange]) -> Void)
    /// The changes with `seq` > `after`, oldest first, at most `limit`; `.expired` when changes
    /// after `after` were swept (`purge`).
    func changes(after: Int64, limit: Int) async throws -> JobChangePage
    /// The highest `seq` in the change log (0 when none was ever written).
    func lastChangeSeq() async throws -> Int64
    /// The highest event `seq` of every job in `queued`, `running` or `cancelling` that has
    /// events (recovery continues their timelines).
    func lastEventSeqOfUnfinishedJobs() async throws -> [String: Int]
    func get(_ id: String) async throws -> JobRecord?
    /// The job of the record `get` would return, when the store has it in memory and can answer
    /// without suspending or blocking; nil otherwise (the job may still exist: call `get`).
    func cachedJob(_ id: String) -> Job?
    /// `get` for callers that must not suspend (the HTTP event loop), answered through `reply`
    /// (which must not block): from a thread of the store's own where it has one, else from a
    /// Task of its own.
    func readJob(_ id: String, reply: @escaping @Sendable (Result<JobRecord?, any Error>) -> Void)
    /// Drops what the store keeps in memory only to answer faster (its record cache), so that
    /// the heap it took can go back to the system; reads fill it again. The engine calls it when
    /// it goes idle (`JobEngine.trimHeapWhenIdle`): after a burst, the cache's records lie
    /// scattered over pages that would otherwise stay resident for good.
    func dropCaches()
    /// Newest first, filtered by `query`, at most `query.limit` records.
    func list(_ query: JobQuery) async throws -> [JobRecord]
    /// Jobs in `queued`, `running` or `cancelling`, oldest first (recovery at start-up).
    func unfinished() async throws -> [JobRecord]
    /// Deletes terminal jobs whose `finished_at` is before `cutoff`, oldest first and at most
    /// `limit` of them (their idempotency keys and timelines go with them), terminal groups
    /// finished before it, and the oldest of the changes older than `cutoff` from the change log,
    /// at most `changesPerPurgedJob × limit` (more than the purged jobs made, so the log keeps
    /// pace); returns the jobs' ids so their logs can be removed. One transaction: a sweep of many
    /// jobs in chunks lets other writes in between (fewer than `limit` ids back: no older job is
    /// left).
    func purge(finishedBefore cutoff: Timestamp, limit: Int) async throws -> [String]
    /// A small durable write that changes no job, to learn whether the store takes writes again
    /// after it refused some (disk full, I/O error, lost database). Throws like a refused write.
    func probeWrite() async throws
    /// Where this store's jobs' output is kept: files under `dataDirectory` for a store one node
    /// owns, the database itself for one that several nodes share.
    func logStore(dataDirectory: String) -> any JobLogStore
    /// Flushes and closes; later calls throw `JobStoreError.unavailable`.
    func close() async

    // MARK: Groups and batches (CONTRACT.md, "Orchestration")

    /// Replaces the stored records of `records` (every one must exist) and appends their timeline
    /// events, all in one commit; like `update`, each whose state changed joins the change log.
    func updateAll(_ records: [(record: JobRecord, events: [JobEvent])]) async throws
    /// Stores a new group and its jobs with their first timeline events, all or nothing (no
    /// idempotency keys in a group); every job joins the change log as by `insert`.
    func insertGroup(_ group: GroupRecord, jobs: [(record: JobRecord, events: [JobEvent])]) async throws
    /// Replaces the stored group with the same id.
    func updateGroup(_ group: GroupRecord) async throws
    func group(_ id: String) async throws -> GroupRecord?
    /// Newest first: ids strictly below `beforeID`, at most `limit`.
    func listGroups(beforeID: String?, limit: Int) async throws -> [GroupRecord]
    /// Groups still `running`, oldest first (recovery at start-up).
    func unfinishedGroups() async throws -> [GroupRecord]
}

extension JobStore {
    /// Stores a new job without timeline events.
    public func insert(_ record: JobRecord) async throws -> InsertResult { try await insert(record, events: []) }

    /// Replaces the stored record without adding timeline events.
    public func update(_ record: JobRecord) async throws { try await update(record, events: []) }

    /// Stores whose commits cost no disk wait store it as `update` does.
    public func updateUnsynced(_ record: JobRecord, events: [JobEvent]) async throws { try await update(record, events: events) }

    /// Stores without a synchronous cache never answer from memory.
    public func cachedJob(_ id: String) -> Job? { nil }

    /// Stores without a reader thread of their own are read in a Task (`get`).
    public func readJob(_ id: String, reply: @escaping @Sendable (Result<JobRecord?, any Error>) -> Void) {
        Task {
            do { reply(.success(try await get(id))) } catch { reply(.failure(error)) }
        }
    }

    /// Stores without a cache have nothing to drop.
    public func dropCaches() {}

    /// Stores held in memory never refuse a write.
    public func probeWrite() async throws {}

    /// Output in files under the data dir (`JobLogFiles`).
    public func logStore(dataDirectory: String) -> any JobLogStore { JobLogFiles(dataDirectory: dataDirectory) }
}

/// The change-log bound of one purge: a job makes about three changes (queued, running, its end).
public let changesPerPurgedJob = 8

extension JobStore {
    /// Every terminal job finished before `cutoff`, in one transaction (see
    /// `purge(finishedBefore:limit:)`).
    public func purge(finishedBefore cutoff: Timestamp) async throws -> [String] {
        try await purge(finishedBefore: cutoff, limit: Int(Int32.max))
    }
}
