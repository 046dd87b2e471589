import JobsdAPI
import Logging

/// A `JobStore` in a PostgreSQL database (through libpq), which several jobsd nodes may share.
///
/// Every write is one statement in its own transaction, so it is durable (committed with the
/// server's `synchronous_commit`) when the call returns. Idempotency keys are unique through a
/// partial unique index: two nodes inserting one key at once store one job, and the other gets
/// `.existing` with it. Nothing is cached: every `get` reads the database, so every node sees
/// every other node's writes.
///
/// Errors: a call that fails with `unavailable` (server unreachable, connection lost mid-call,
/// store closed) throws and the API answers 503; the next call reconnects by itself. A read that
/// finds its connection lost retries once on a new one; a write does not (the server may have
/// committed it before the connection broke: a caller that retries sees `duplicateID` for an
/// insert, the same row for an update).
/// Cancellation: cancelling a caller does not withdraw its statement once queued; the call
/// returns when the statement has finished. Timeouts: see `PostgresConnection` (connect 5 s, a
/// dead server noticed within about 10 s).
public final class PostgresJobStore: JobStore {
    /// The URL the store was opened with (credentials included: do not log it).
    let url: String
    let pool: PostgresPool

    /// Connects to `url`, creates or migrates the schema (waiting for another node that is
    /// migrating), and opens a pool of `connections` connections. Blocks the calling thread for
    /// the round trips (call it at start-up). Throws `unsupportedSchema` for a database of a newer
    /// jobsd and `unavailable` with libpq's reason when the server cannot be reached.
    public init(url: String, logger: Logger, connections: Int = 4) throws(JobStoreError) {
        self.url = url
        let connection = PostgresConnection(url: url)
        defer { connection.close() }
        let found: Int
        do {
            found = try PostgresSchema.prepare(connection)
        } catch let error as JobStoreError {
            throw error
        } catch let error as PostgresError {
            throw .unavailable("cannot open the PostgreSQL job store: \(error)")
        } catch {
            throw .unavailable("cannot open the PostgreSQL job store: \(error)")
        }
        pool = PostgresPool(url: url, size: connections)
        logger.info("job store opened", metadata: [
            "store": "postgres", "store.schema": "\(PostgresSchema.currentVersion)", "store.schema_found": "\(found)",
        ])
    }

    // MARK: - JobStore

    public func insert(_ record: JobRecord) async throws -> InsertResult {
        let parameters = PostgresJobRows.parameters(record)
        let (id, key) = (record.id, record.idempotencyKey)
        return try await pool.run { connection in
            // A job with the key may be swept between the conflict and the select: try again then.
            while true {
                do {
                    if try connection.query(PostgresJobRows.insertSQL, parameters).affectedRows == 1 { return .inserted }
                } catch let error as PostgresError where error.sqlState == PostgresError.uniqueViolation {
                    throw JobStoreError.duplicateID(id)  // the key conflict does nothing: only the id can throw
                }
                guard let key else { throw JobStoreError.duplicateID(id) }
                if let row = try connection.query(PostgresJobRows.selectByIdempotencyKey, [key]).rows.first {
                    return .existing(try PostgresJobRows.record(from: row))
                }
            }
        }
    }

    /// Fenced: when the stored token is not the record's, throws `leaseLost` — unless the record
    /// is the final one of a job another node rescued from this record's owner, of which only the
    /// cleanup outcome is stored (see `SharedJobStore`).
    public func update(_ record: JobRecord) async throws {
        let parameters = PostgresJobRows.parameters(record)
        let (id, owner, cleanup, terminal) = (record.id, record.owner, record.job.cleanup, record.state.isTerminal)
        try await pool.run { connection in
            if try connection.query(PostgresJobRows.updateSQL, parameters).affectedRows == 1 { return }
            if terminal, let owner {
                let finished = try connection.query(
                    PostgresJobRows.finishRescueSQL,
                    [id, cleanup.state.rawValue, cleanup.exitCode, cleanup.error, owner])
                if finished.affectedRows == 1 { return }
            }
            guard try connection.query("SELECT 1 FROM jobs WHERE id = $1", [id]).count == 1 else {
                throw JobStoreError.notFound(id)
            }
            throw JobStoreError.leaseLost(id)
        }
    }

    public func get(_ id: String) async throws -> JobRecord? {
        try await pool.run(idempotent: true) { connection in
            try connection.query(PostgresJobRows.selectByID, [id]).rows.first.map(PostgresJobRows.record(from:))
        }
    }

    public func list(_ query: JobQuery) async throws -> [JobRecord] {
        let (sql, parameters) = PostgresJobRows.list(query)
        return try await pool.run(idempotent: true) { connection in
            try connection.query(sql, parameters).rows.map(PostgresJobRows.record(from:))
        }
    }

    public func unfinished() async throws -> [JobRecord] {
        try await pool.run(idempotent: true) { connection in
            try connection.query(PostgresJobRows.selectUnfinished).rows.map(PostgresJobRows.record(from:))
        }
    }

    public func purge(finishedBefore cutoff: Timestamp) async throws -> [String] {
        try await pool.run { connection in
            _ = try connection.query(PostgresJobRows.purgeGroups, [cutoff.milliseconds])
            return try connection.query(PostgresJobRows.purge, [cutoff.milliseconds]).rows.compactMap { $0.string(0) }
        }
    }

    // MARK: - Groups and batches

    public func updateAll(_ records: [JobRecord]) async throws {
        guard !records.isEmpty else { return }
        let rows = records.map { ($0.id, PostgresJobRows.parameters($0)) }
        try await pool.run { connection in
            try connection.transaction {
                for (id, parameters) in rows where try connection.query(PostgresJobRows.updateSQL, parameters).affectedRows != 1 {
                    throw JobStoreError.notFound(id)
                }
            }
        }
    }

    public func insertGroup(_ group: GroupRecord, jobs: [JobRecord]) async throws {
        let groupParameters = PostgresJobRows.parameters(group)
        let rows = jobs.map { ($0.id, PostgresJobRows.parameters($0)) }
        let groupID = group.id
        try await pool.run { connection in
            do {
                try connection.transaction {
                    _ = try connection.query(PostgresJobRows.insertGroupSQL, groupParameters)
                    for (id, parameters) in rows where try connection.query(PostgresJobRows.insertSQL, parameters).affectedRows != 1 {
                        throw JobStoreError.duplicateID(id)
                    }
                }
            } catch let error as PostgresError where error.sqlState == PostgresError.uniqueViolation {
                throw JobStoreError.duplicateID(groupID)
            }
        }
    }

    public func updateGroup(_ group: GroupRecord) async throws {
        let parameters = PostgresJobRows.parameters(group)
        let id = group.id
        try await pool.run { connection in
            guard try connection.query(PostgresJobRows.updateGroupSQL, parameters).affectedRows == 1 else {
                throw JobStoreError.notFound(id)
            }
        }
    }

    public func group(_ id: String) async throws -> GroupRecord? {
        try await pool.run(idempotent: true) { connection in
            try connection.query(PostgresJobRows.selectGroup, [id]).rows.first.map(StoredGroup.record(from:))
        }
    }

    public func listGroups(beforeID: String?, limit: Int) async throws -> [GroupRecord] {
        try await pool.run(idempotent: true) { connection in
            try connection.query(PostgresJobRows.listGroups, [beforeID, max(0, limit)]).rows.map(StoredGroup.record(from:))
        }
    }

    public func unfinishedGroups() async throws -> [GroupRecord] {
        try await pool.run(idempotent: true) { connection in
            try connection.query(PostgresJobRows.selectUnfinishedGroups).rows.map(StoredGroup.record(from:))
        }
    }

    /// Sends `payload` to every listener of `channel` (`pg_notify`, bound parameters), delivered
    /// when this statement commits.
    public func notify(channel: String, payload: String) async throws {
        try await pool.run { connection in _ = try connection.query("SELECT pg_notify($1, $2)", [channel, payload]) }
    }

    /// Round trips to the server made by this store's connections so far.
    public func roundTrips() async -> Int { await pool.roundTrips() }

    /// Refuses new calls, lets the queued ones finish and closes the connections. Later calls
    /// throw `unavailable`.
    public func close() async {
        await pool.close()
    }
}
