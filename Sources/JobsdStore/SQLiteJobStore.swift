import Glibc
import JobsdAPI
import Logging

/// A `JobStore` in one SQLite database file (system libsqlite3), in WAL mode with
/// `synchronous=FULL`: a write has reached the disk when its call returns, and a `kill -9` right
/// after loses nothing. `updateUnsynced` alone commits without the fsync (`synchronous=NORMAL`).
///
/// Writes go through `SQLiteWriter` (group commit: concurrent callers share one transaction and
/// one fsync); reads run on a second connection on their own queue, so they never wait for a
/// commit. No sqlite3 call runs on the Swift cooperative pool. `get` answers from
/// `SQLiteRecordCache` (recently stored or read records, updated only after a commit) when it
/// can, without a query or a suspension.
///
/// Errors: a call that fails with `unavailable` (disk full, I/O error, store closed) changed
/// nothing, and the API answers 503; the store works again once the condition clears.
/// Cancellation: cancelling a caller does not withdraw its write or interrupt its query; the call
/// returns when the batch it joined has committed (or failed). There are no timeouts beyond
/// SQLite's 5 s `busy_timeout` when another process holds the database lock.
public final class SQLiteJobStore: JobStore {
    /// The database file.
    public let path: String
    let writer: SQLiteWriter
    let reader: SQLiteReader
    let cache: SQLiteRecordCache

    /// Opens or creates the database at `path` and migrates it to the current schema. Blocks the
    /// calling thread briefly (call it at start-up). Throws `unsupportedSchema` for a database of
    /// a newer jobsd, and `unavailable` with the reason when the file cannot be created or opened
    /// (directory missing or not writable) or is not a jobsd database.
    /// Records `get` answers from memory (`SQLiteRecordCache`) unless configured otherwise.
    public static let defaultCacheRecords = 16_384

    /// `cacheRecords` (at least 1) bounds the records `get` answers from memory, and SQLite's
    /// page cache of each connection with it: 1 KiB per 8 records, at least 64 KiB (2 MiB by
    /// default, about SQLite's own default).
    public convenience init(path: String, logger: Logger, cacheRecords: Int = defaultCacheRecords) throws(JobStoreError) {
        try self.init(
            path: path, logger: logger, writerPragmas: [], cache: SQLiteRecordCache(capacity: cacheRecords),
            pageCacheKiB: max(64, cacheRecords / 8))
    }

    /// `writerPragmas` run on the write connection after migration (tests limit the size with
    /// `max_page_count` to provoke a full disk).
    /// `cache` is replaced by tests to exercise eviction.
    init(
        path: String, logger: Logger, writerPragmas: [String], cache: SQLiteRecordCache = SQLiteRecordCache(),
        pageCacheKiB: Int = defaultCacheRecords / 8
    ) throws(JobStoreError) {
        self.path = path
        self.cache = cache
        do {
            let writeConnection = try SQLiteConnection(path: path)
            let foundVersion = try SQLiteSchema.prepare(writeConnection)
            for pragma in writerPragmas { try writeConnection.execute(pragma) }
            let readConnection = try SQLiteConnection(path: path)
            try readConnection.execute("PRAGMA query_only = 1")
            for connection in [writeConnection, readConnection] { try connection.execute("PRAGMA cache_size = -\(pageCacheKiB)") }
            writer = SQLiteWriter(connection: writeConnection, cache: cache, logger: logger)
            reader = SQLiteReader(connection: readConnection)
            logger.info("job store opened", metadata: [
                "store.path": "\(path)", "store.schema": "\(SQLiteSchema.currentVersion)",
                "store.schema_found": "\(foundVersion)",
            ])
        } catch let error as JobStoreError {
            throw error
        } catch let error as SQLiteError {
            throw .unavailable("cannot open the job database at \(path): \(error.reason)")
        } catch {
            throw .unavailable("cannot open the job database at \(path): \(error)")
        }
    }

    // MARK: - JobStore

    public func insert(_ record: JobRecord, events: [JobEvent]) async throws -> InsertResult {
        guard case let .insert(result) = try await writer.perform(.insert(SQLiteEncodedJob(record, events: events))) else {
            preconditionFailure()
        }
        return result
    }

    public func update(_ record: JobRecord, events: [JobEvent]) async throws {
        _ = try await writer.perform(.update(SQLiteEncodedJob(record, events: events), synced: true))
    }

    /// Committed with `synchronous=NORMAL` when no synced write shares its batch: in the WAL (the
    /// OS's page cache) at return, so a `kill -9` loses nothing, and on disk with the next synced
    /// commit, whose fsync of the WAL covers it.
    public func updateUnsynced(_ record: JobRecord, events: [JobEvent]) async throws {
        _ = try await writer.perform(.update(SQLiteEncodedJob(record, events: events), synced: false))
    }

    public func appendEvent(_ event: JobEvent, to id: String) async throws -> JobEvent {
        guard case let .appended(stored) = try await writer.perform(.appendEvent(event, jobID: id)) else { preconditionFailure() }
        return stored
    }

    public func events(of id: String) async throws -> [JobEvent] {
        try await reader.read { try $0.events(ofJob: id) }
    }

    public func observeChanges(_ handler: @escaping @Sendable ([JobChange]) -> Void) {
        writer.observeChanges(handler)
    }

    public func changes(after: Int64, limit: Int) async throws -> JobChangePage {
        try await reader.read { try $0.changes(after: after, limit: limit) }
    }

    public func lastChangeSeq() async throws -> Int64 {
        try await reader.read { try $0.lastChangeSeq() }
    }

    public func lastEventSeqOfUnfinishedJobs() async throws -> [String: Int] {
        try await reader.read { try $0.lastEventSeqOfUnfinishedJobs() }
    }

    /// A cache hit returns without suspending; a miss queries and fills the cache.
    public func get(_ id: String) async throws -> JobRecord? {
        switch try cache.lookup(id) {
        case let .hit(record): return record
        case let .miss(ticket): return try await withCheckedThrowingContinuation { continuation in fetch(id, ticket: ticket) { continuation.resume(with: $0) } }
        }
    }

    /// `get` without a Task: a hit replies at once, a miss from the reader's queue.
    public func readJob(_ id: String, reply: @escaping @Sendable (Result<JobRecord?, any Error>) -> Void) {
        do {
            switch try cache.lookup(id) {
            case let .hit(record): reply(.success(record))
            case let .miss(ticket): fetch(id, ticket: ticket, reply: reply)
            }
        } catch {
            reply(.failure(error))
        }
    }

    /// Reads the record on the reader's queue, fills the cache (unless a write since `ticket`
    /// makes the read stale) and replies there.
    private func fetch(_ id: String, ticket: SQLiteRecordCache.Ticket, reply: @escaping @Sendable (Result<JobRecord?, any Error>) -> Void) {
        reader.submit({ try $0.job(id) }) { [cache] result in
            if case let .success(record?) = result { cache.fill(record, ticket: ticket) }
            reply(result)
        }
    }

    public func list(_ query: JobQuery) async throws -> [JobRecord] {
        try await reader.read { try $0.jobs(matching: query) }
    }

    public func unfinished() async throws -> [JobRecord] {
        try await reader.read { try $0.unfinishedJobs() }
    }

    public func purge(finishedBefore cutoff: Timestamp, limit: Int) async throws -> [String] {
        guard case let .purged(ids) = try await writer.perform(.purge(finishedBefore: cutoff, limit: limit)) else {
            preconditionFailure()
        }
        return ids
    }

    /// Free space the probe asks for on the database's file system, beyond what its write needs.
    static let probeFreeBytes: UInt64 = 1 << 20

    /// Refuses while the database's file system has less than `probeFreeBytes` free (a one-page
    /// write can still fit in the WAL's slack on a full disk, while a job's row no longer does);
    /// then rewrites the schema version (`PRAGMA user_version`) with its own value in the writer's
    /// next batch: a page written to the WAL and synced, no job changed.
    public func probeWrite() async throws {
        var fs = statvfs()
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if statvfs(directory.isEmpty ? "." : directory, &fs) == 0 {
            let free = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
            if free < Self.probeFreeBytes {
                throw JobStoreError.unavailable("the disk holding \(path) is full (\(free) bytes free)")
            }
        }
        _ = try await writer.perform(.probe)
    }

    public func updateAll(_ records: [(record: JobRecord, events: [JobEvent])]) async throws {
        guard !records.isEmpty else { return }
        _ = try await writer.perform(.updateAll(records.map { SQLiteEncodedJob($0.record, events: $0.events) }))
    }

    public func insertGroup(_ group: GroupRecord, jobs: [(record: JobRecord, events: [JobEvent])]) async throws {
        _ = try await writer.perform(.insertGroup(group, jobs.map { SQLiteEncodedJob($0.record, events: $0.events) }))
    }

    public func updateGroup(_ group: GroupRecord) async throws {
        _ = try await writer.perform(.updateGroup(group))
    }

    public func group(_ id: String) async throws -> GroupRecord? {
        try await reader.read { try $0.group(id) }
    }

    public func listGroups(beforeID: String?, limit: Int) async throws -> [GroupRecord] {
        try await reader.read { try $0.groups(beforeID: beforeID, limit: limit) }
    }

    public func unfinishedGroups() async throws -> [GroupRecord] {
        try await reader.read { try $0.unfinishedGroups() }
    }

    /// Refuses new calls, commits the writes already queued, checkpoints the WAL into the
    /// database file and closes both connections. Later calls throw `unavailable`.
    public func close() async {
        cache.close()
        await reader.close()
        await writer.close()
    }
}
