import CoreMetrics
import JobsdAPI
import JobsdMetrics
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
    let logger: Logger
    /// Hands this node's and other nodes' changes to the observer, each once, in `seq` order.
    let changeRelay: PostgresChangeRelay

    /// Connects to `url`, creates or migrates the schema (waiting for another node that is
    /// migrating), and opens a pool of `connections` connections. Blocks the calling thread for
    /// the round trips (call it at start-up). Throws `unsupportedSchema` for a database of a newer
    /// jobsd and `unavailable` with libpq's reason when the server cannot be reached. With
    /// `metrics`, every round trip of the pool is recorded in `jobsd_store_round_trip_seconds`.
    /// `idleInTransactionLimit` (seconds; jobsd passes `--node-timeout`): the server ends a session
    /// of this store whose transaction sits idle that long, so a frozen node frees the locks it
    /// held (the claim lock above all) when the others would rescue its jobs anyway.
    public init(
        url: String, logger: Logger, connections: Int = 4, metrics: (any MetricsFactory)? = nil, idleInTransactionLimit: Double? = nil
    ) throws(JobStoreError) {
        self.url = url
        self.logger = logger
        let connection = PostgresConnection(url: url)
        defer { connection.close() }
        let found: Int
        let lastChange: Int64
        do {
            found = try PostgresSchema.prepare(connection)
            lastChange = try connection.query("SELECT value FROM store_meta WHERE key = 'changes_last'").rows.first?.int64(0) ?? 0
        } catch let error as JobStoreError {
            throw error
        } catch let error as PostgresError {
            throw .unavailable("cannot open the PostgreSQL job store: \(error)")
        } catch {
            throw .unavailable("cannot open the PostgreSQL job store: \(error)")
        }
        changeRelay = PostgresChangeRelay(lastSeq: lastChange)
        pool = PostgresPool(
            url: url, size: connections,
            roundTripTimer: metrics.map { CoreMetrics.Timer(label: MetricFamily.storeRoundTrip.name, factory: $0) },
            idleInTransactionLimit: idleInTransactionLimit)
        logger.info("job store opened", metadata: [
            "store": "postgres", "store.schema": "\(PostgresSchema.currentVersion)", "store.schema_found": "\(found)",
        ])
    }

    // MARK: - JobStore

    public func insert(_ record: JobRecord, events: [JobEvent]) async throws -> InsertResult {
        let parameters = PostgresJobRows.parameters(record)
        let (id, key) = (record.id, record.idempotencyKey)
        let change = JobChange(record.job)
        return try await writeLoggingChanges { connection, changes in
            // A job with the key may be swept between the conflict and the select: try again then.
            while true {
                do {
                    if try connection.query(PostgresJobRows.insertSQL, parameters).affectedRows == 1 {
                        try Self.insertEvents(events, of: id, on: connection)
                        changes.append(try Self.appendChange(change, on: connection))
                        return .inserted
                    }
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
    /// ends an attempt another node rescued from this record's owner (`SharedJobStore`): then
    /// the rescue is done (its `job_rescues` row goes), the cleanup outcome is stored when the
    /// job still is at that attempt, terminal, with its cleanup pending, and `events` are
    /// appended after the job's last ones, without those the rescue wrote itself (`finished`,
    /// `retry_scheduled`, `scheduled`) — unless another node runs a later attempt of the job by
    /// now (it numbers the job's events; the lost attempt's are then only in this node's log). `events` and a change of state (with the webhook delivery
    /// a first terminal state enqueues) go into the same transaction.
    public func update(_ record: JobRecord, events: [JobEvent]) async throws {
        let parameters = PostgresJobRows.parameters(record)
        let (id, cleanup) = (record.id, record.job.cleanup)
        // Only the write that ends an attempt (terminal, or queued for its retry) ends a rescue;
        // a retried job's record is already the next attempt's.
        let endsAttempt = record.state.isTerminal || record.state == .queued
        let attempt = record.state == .queued ? max(1, record.job.attempt - 1) : record.job.attempt
        let change = JobChange(record.job)
        let delivery = WebhookDelivery.enqueued(by: record)
        try await writeLoggingChanges { connection, changes in
            let row = try connection.query(
                "SELECT state, coalesce((orchestration::jsonb ->> 'attempt')::integer, 1) FROM jobs WHERE id = $1 FOR UPDATE", [id]
            ).rows.first
            let stored = row?.string(0)
            if try connection.query(PostgresJobRows.updateSQL, parameters).affectedRows == 1 {
                try Self.insertEvents(events, of: id, on: connection)
                if stored != change.state.rawValue {
                    changes.append(try Self.appendChange(change, on: connection))
                    if let delivery { try Self.insertDelivery(delivery, on: connection) }
                }
                return
            }
            if stored != nil, endsAttempt, try connection.query(PostgresJobRows.endRescueSQL, [id, attempt]).affectedRows == 1 {
                _ = try connection.query(
                    PostgresJobRows.rescuedCleanupSQL, [id, cleanup.state.rawValue, cleanup.exitCode, cleanup.error, attempt])
                // Not while another node runs a later attempt: that node numbers the job's events.
                if stored == JobState.running.rawValue || stored == JobState.cancelling.rawValue, row?.int64(1) != Int64(attempt) { return }
                let lastSeq = try Self.lastEventSeq(of: id, on: connection)
                let own = events.filter { ![.finished, .retryScheduled, .scheduled].contains($0.type) }
                try Self.insertEvents(Self.numbered(own, after: lastSeq), of: id, on: connection)
                return
            }
            guard stored != nil else { throw JobStoreError.notFound(id) }
            throw JobStoreError.leaseLost(id)
        }
    }

    /// Runs `work` in one transaction through `changeRelay`, which notifies the other nodes of the
    /// changes it logged and hands them to the observer after the commit, in `seq` order.
    func writeLoggingChanges<T: Sendable>(
        _ work: @escaping @Sendable (PostgresConnection, inout [JobChange]) throws -> T
    ) async throws -> T {
        try await pool.run { [changeRelay] connection in
            try changeRelay.write(on: connection) { changes in try work(connection, &changes) }
        }
    }

    static func insertEvents(_ events: [JobEvent], of id: String, on connection: PostgresConnection) throws {
        for event in events {
            _ = try connection.query(
                "INSERT INTO job_events (job_id, seq, at, type, fields) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                [id, event.seq, event.at.milliseconds, event.type.rawValue, event.fieldsJSON])
        }
    }

    /// Numbers `change` with the next `seq` (the row lock on `changes_last` holds until commit, so
    /// numbers are handed out in commit order) and logs it.
    static func appendChange(_ change: JobChange, on connection: PostgresConnection) throws -> JobChange {
        var numbered = change
        numbered.seq = try connection.query("UPDATE store_meta SET value = value + 1 WHERE key = 'changes_last' RETURNING value")
            .rows.first?.int64(0) ?? 0
        _ = try connection.query(
            "INSERT INTO job_changes (seq, at, job_id, state, labels, job) VALUES ($1, $2, $3, $4, $5, $6)",
            [numbered.seq, Timestamp.now().milliseconds, change.jobID, change.state.rawValue, StoredJob.labelsJSON(change.labels), change.json])
        return numbered
    }

    public func appendEvent(_ event: JobEvent, to id: String) async throws -> JobEvent {
        try await pool.run { connection in
            try connection.transaction {
                guard let numbered = try Self.appendNumbered(event, to: id, on: connection) else { throw JobStoreError.notFound(id) }
                return numbered
            }
        }
    }

    /// `events` numbered `after` + 1, `after` + 2, … (their own `seq` is ignored).
    static func numbered(_ events: [JobEvent], after: Int) -> [JobEvent] {
        events.enumerated().map { offset, event in
            var event = event
            event.seq = after + offset + 1
            return event
        }
    }

    /// Appends `event` (inside the caller's transaction) numbered after the job's last event, with
    /// the job's row locked so that concurrent appends number in turn; nil for an unknown job.
    static func appendNumbered(_ event: JobEvent, to id: String, on connection: PostgresConnection) throws -> JobEvent? {
        guard try connection.query("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", [id]).count == 1 else { return nil }
        var numbered = event
        numbered.seq = try lastEventSeq(of: id, on: connection) + 1
        try insertEvents([numbered], of: id, on: connection)
        return numbered
    }

    /// The `seq` of the job's last stored event (0: none).
    static func lastEventSeq(of id: String, on connection: PostgresConnection) throws -> Int {
        Int(try connection.query("SELECT coalesce(max(seq), 0) FROM job_events WHERE job_id = $1", [id]).rows.first?.int64(0) ?? 0)
    }

    public func events(of id: String) async throws -> [JobEvent] {
        try await pool.run(idempotent: true) { connection in
            try connection.query("SELECT seq, at, type, fields FROM job_events WHERE job_id = $1 ORDER BY seq", [id]).rows.map { row in
                JobEvent(JobEvent.Kind(rawValue: row.string(2) ?? ""), at: Timestamp(milliseconds: row.int64(1) ?? 0),
                         seq: Int(row.int64(0) ?? 0), JobEvent.fields(fromJSON: row.string(3) ?? "{}"))
            }
        }
    }

    public func lastEventSeqOfUnfinishedJobs() async throws -> [String: Int] {
        try await pool.run(idempotent: true) { connection in
            var last: [String: Int] = [:]
            let sql = "SELECT job_id, MAX(seq) FROM job_events WHERE job_id IN "
                + "(SELECT id FROM jobs WHERE state IN (\(StoredJob.unfinishedStates))) GROUP BY job_id"
            for row in try connection.query(sql).rows { last[row.string(0) ?? ""] = Int(row.int64(1) ?? 0) }
            return last
        }
    }

    /// `handler` also gets the changes other nodes commit, once this node hears of them
    /// (`catchUpChanges`), in `seq` order with its own.
    public func observeChanges(_ handler: @escaping @Sendable ([JobChange]) -> Void) { changeRelay.observer.set(handler) }

    public func changes(after: Int64, limit: Int) async throws -> JobChangePage {
        try await pool.run(idempotent: true) { connection in
            let swept = try connection.query("SELECT value FROM store_meta WHERE key = 'changes_swept_through'").rows.first?.int64(0) ?? 0
            guard after >= swept else { return .expired }
            return .changes(try PostgresChangeRelay.read(after: after, before: nil, limit: limit, on: connection))
        }
    }

    public func lastChangeSeq() async throws -> Int64 {
        try await pool.run(idempotent: true) { connection in
            try connection.query("SELECT value FROM store_meta WHERE key = 'changes_last'").rows.first?.int64(0) ?? 0
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

    public func purge(finishedBefore cutoff: Timestamp, limit: Int) async throws -> [String] {
        let changeLimit = min(limit, Int(Int32.max)) * changesPerPurgedJob
        return try await pool.run { connection in
            try connection.transaction {
                // The log's head up to its first change not older than the cutoff (as in SQLite: a
                // chunk reads at most `changeLimit` rows by seq, not the whole log by `at`).
                _ = try connection.query(
                    "WITH head AS (SELECT seq, at FROM job_changes ORDER BY seq LIMIT $2), "
                        + "edge AS (SELECT MIN(seq) AS seq FROM head WHERE at >= $1), "
                        + "swept AS (DELETE FROM job_changes WHERE seq IN (SELECT seq FROM head "
                        + "WHERE (SELECT seq FROM edge) IS NULL OR seq < (SELECT seq FROM edge)) RETURNING seq) "
                        + "UPDATE store_meta SET value = GREATEST(value, (SELECT COALESCE(MAX(seq), 0) FROM swept)) "
                        + "WHERE key = 'changes_swept_through'", [cutoff.milliseconds, Int64(changeLimit)])
                _ = try connection.query(PostgresJobRows.purgeGroups, [cutoff.milliseconds])
                let ids = try connection.query(PostgresJobRows.purge, [cutoff.milliseconds, Int64(limit)]).rows.compactMap { $0.string(0) }
                if !ids.isEmpty {
                    for table in ["job_events", "webhook_deliveries"] {
                        _ = try connection.query("DELETE FROM \(table) WHERE job_id = ANY($1::text[])", ["{" + ids.joined(separator: ",") + "}"])
                    }
                }
                return ids
            }
        }
    }

    /// The jobs' output is in the database (`PostgresJobLogs`): `dataDirectory` holds none of it.
    public func logStore(dataDirectory: String) -> any JobLogStore { PostgresJobLogs(pool: pool, logger: logger) }

    // MARK: - Groups and batches

    /// Unfenced beyond `updateSQL`'s own token check: a record whose row another node changed
    /// the token of throws `notFound`, and nothing of the batch is stored. A first terminal state
    /// enqueues the job's webhook delivery in the same transaction, as `update` does.
    public func updateAll(_ records: [(record: JobRecord, events: [JobEvent])]) async throws {
        guard !records.isEmpty else { return }
        let rows = records.map {
            ($0.record.id, PostgresJobRows.parameters($0.record), JobChange($0.record.job), $0.events, WebhookDelivery.enqueued(by: $0.record))
        }
        try await writeLoggingChanges { connection, changes in
            for (id, parameters, change, events, delivery) in rows {
                let stored = try connection.query("SELECT state FROM jobs WHERE id = $1 FOR UPDATE", [id]).rows.first?.string(0)
                guard try connection.query(PostgresJobRows.updateSQL, parameters).affectedRows == 1 else { throw JobStoreError.notFound(id) }
                try Self.insertEvents(events, of: id, on: connection)
                guard stored != change.state.rawValue else { continue }
                changes.append(try Self.appendChange(change, on: connection))
                if let delivery { try Self.insertDelivery(delivery, on: connection) }
            }
        }
    }

    public func insertGroup(_ group: GroupRecord, jobs: [(record: JobRecord, events: [JobEvent])]) async throws {
        let groupParameters = PostgresJobRows.parameters(group)
        let rows = jobs.map { ($0.record.id, PostgresJobRows.parameters($0.record), JobChange($0.record.job), $0.events) }
        let groupID = group.id
        do {
            try await writeLoggingChanges { connection, changes in
                _ = try connection.query(PostgresJobRows.insertGroupSQL, groupParameters)
                for (id, parameters, change, events) in rows {
                    guard try connection.query(PostgresJobRows.insertSQL, parameters).affectedRows == 1 else { throw JobStoreError.duplicateID(id) }
                    try Self.insertEvents(events, of: id, on: connection)
                    changes.append(try Self.appendChange(change, on: connection))
                }
            }
        } catch let error as PostgresError where error.sqlState == PostgresError.uniqueViolation {
            throw JobStoreError.duplicateID(groupID)
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

    /// Assigns a transaction id and commits it: a WAL record flushed by the server, without a
    /// row. Fails while the database is unreachable or cannot write.
    public func probeWrite() async throws {
        try await pool.run { connection in _ = try connection.query("SELECT txid_current()") }
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
