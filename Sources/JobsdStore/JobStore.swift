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
    func insert(_ record: JobRecord) async throws -> InsertResult
    /// Replaces the stored record with the same id.
    func update(_ record: JobRecord) async throws
    func get(_ id: String) async throws -> JobRecord?
    /// The record `get` would return, when the store has it in memory and can answer without
    /// suspending or blocking; nil otherwise (the job may still exist: call `get`).
    func cachedRecord(_ id: String) -> JobRecord?
    /// Newest first, filtered by `query`, at most `query.limit` records.
    func list(_ query: JobQuery) async throws -> [JobRecord]
    /// Jobs in `queued`, `running` or `cancelling`, oldest first (recovery at start-up).
    func unfinished() async throws -> [JobRecord]
    /// Deletes terminal jobs whose `finished_at` is before `cutoff` (their idempotency keys go
    /// with them), and terminal groups finished before it, and returns the jobs' ids so their
    /// logs can be removed.
    func purge(finishedBefore cutoff: Timestamp) async throws -> [String]
    /// Flushes and closes; later calls throw `JobStoreError.unavailable`.
    func close() async

    // MARK: Groups and batches (CONTRACT.md, "Orchestration")

    /// Replaces the stored records of `records` (every one must exist), all in one commit.
    func updateAll(_ records: [JobRecord]) async throws
    /// Stores a new group and its jobs, all or nothing (no idempotency keys in a group).
    func insertGroup(_ group: GroupRecord, jobs: [JobRecord]) async throws
    /// Replaces the stored group with the same id.
    func updateGroup(_ group: GroupRecord) async throws
    func group(_ id: String) async throws -> GroupRecord?
    /// Newest first: ids strictly below `beforeID`, at most `limit`.
    func listGroups(beforeID: String?, limit: Int) async throws -> [GroupRecord]
    /// Groups still `running`, oldest first (recovery at start-up).
    func unfinishedGroups() async throws -> [GroupRecord]
}

extension JobStore {
    /// Stores without a synchronous cache never answer from memory.
    public func cachedRecord(_ id: String) -> JobRecord? { nil }
}
