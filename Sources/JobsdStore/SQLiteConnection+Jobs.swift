import CSQLite
import JobsdAPI

/// The job queries, run on a connection's own queue: writes inside the writer's transaction,
/// reads on the reader connection.
extension SQLiteConnection {
    // MARK: - Writes
    //
    // Each write below is all-or-nothing on its own, inside the writer's batch transaction: a
    // write of one statement relies on SQLite undoing a failed statement; a write of several
    // wraps them in `atomically`. (A savepoint per write cost two more statements per insert.)

    /// Inserts `record` and its labels, or returns the stored job with the same idempotency key
    /// (checked in the same transaction, so two submissions with one key never both insert).
    /// Throws `duplicateID` when the id is stored already.
    func insertJob(_ record: SQLiteEncodedJob) throws -> InsertResult {
        if let key = record.idempotencyKey,
           let existing = try records(SQLiteJobRows.selectByIdempotencyKey, { try $0.bind(1, key) }).first {
            return .existing(existing)
        }
        func insertRow() throws {
            do {
                try withStatement(SQLiteJobRows.insertSQL) { statement in
                    try record.bind(to: statement)
                    _ = try statement.step()
                }
            } catch let error as SQLiteError where error.primaryCode == SQLITE_CONSTRAINT {
                // The key was checked above and the encoder fills every NOT NULL column: only the
                // id (primary key) can conflict.
                throw JobStoreError.duplicateID(record.id)
            }
        }
        if record.labels.isEmpty {
            try insertRow()
        } else {
            try atomically {
                try insertRow()
                try insertLabels(of: record)
            }
        }
        // `INSERT OR IGNORE`: fails only with the whole transaction, so no savepoint is needed.
        try insertEvents(of: record)
        return .inserted
    }

    /// Replaces the row of `record.id`; rewrites its label rows only when the labels changed.
    /// Throws `notFound` when there is no such job.
    /// Returns whether the job's state changed.
    @discardableResult
    func updateJob(_ record: SQLiteEncodedJob) throws -> Bool {
        let stored = try withStatement("SELECT labels, state FROM jobs WHERE id = ?1") { statement in
            try statement.bind(1, record.id)
            return try statement.step() ? (labels: statement.string(0), state: statement.string(1)) : nil
        }
        guard let stored else { throw JobStoreError.notFound(record.id) }
        let storedLabels = stored.labels
        func updateRow() throws {
            try withStatement(SQLiteJobRows.updateSQL) { statement in
                try record.bind(to: statement)
                _ = try statement.step()
            }
        }
        if storedLabels == record.labelsJSON {
            try updateRow()
        } else {
            try atomically {
                try updateRow()
                try deleteLabels(ofJob: record.id)
                try insertLabels(of: record)
            }
        }
        try insertEvents(of: record)
        return stored.state != record.boxed.record.state.rawValue
    }

    /// Updates every record with its events, all or nothing (fan-out of a group cancel: one
    /// write, one commit); returns the change-log entries of those whose state changed.
    func updateJobs(_ records: [SQLiteEncodedJob]) throws -> [JobChange] {
        try atomically {
            try records.compactMap(updateJobNotingChange)
        }
    }

    /// `updateJob`; when the state changed, also the change-log entry (returned) and, for a write
    /// that makes a job with `notify` terminal, its webhook delivery.
    func updateJobNotingChange(_ record: SQLiteEncodedJob) throws -> JobChange? {
        guard try updateJob(record) else { return nil }
        if let delivery = record.delivery { try insertDelivery(delivery) }
        return try insertChange(of: record)
    }

    /// Inserts the group and its jobs with their events (no idempotency keys), all or nothing;
    /// returns the jobs' change-log entries.
    func insertGroup(_ group: GroupRecord, jobs: [SQLiteEncodedJob]) throws -> [JobChange] {
        try atomically {
            try withStatement(SQLiteGroupRows.insertSQL) { statement in
                try SQLiteGroupRows.bind(group, to: statement)
                _ = try statement.step()
            }
            return try jobs.map { job in
                guard case .inserted = try insertJob(job) else { throw JobStoreError.duplicateID(job.id) }
                return try insertChange(of: job)
            }
        }
    }

    /// Replaces the group's row; `notFound` when there is none.
    func updateGroup(_ group: GroupRecord) throws {
        try withStatement(SQLiteGroupRows.updateSQL) { statement in
            try SQLiteGroupRows.bind(group, to: statement)
            _ = try statement.step()
        }
        guard changes > 0 else { throw JobStoreError.notFound(group.id) }
    }

    /// Deletes the oldest terminal jobs finished before `cutoff`, at most `limit`, with their
    /// labels, timelines and pending webhook deliveries (their idempotency keys go with the rows),
    /// groups finished before it and the oldest changes logged before it (see `JobStore.purge`),
    /// and returns the jobs' ids.
    func purgeJobs(finishedBefore cutoff: Timestamp, limit: Int) throws -> [String] {
        try atomically {
            try purgeChanges(before: cutoff, limit: min(limit, Int(Int32.max)) * changesPerPurgedJob)
            try withStatement("DELETE FROM job_groups WHERE finished_at < ?1") { statement in
                try statement.bind(1, cutoff.milliseconds)
                _ = try statement.step()
            }
            let ids = try withStatement(
                // `+state`: walk the finished_at index (oldest first, stopping after `limit`), not
                // the state index, which would sort every finished job for each chunk.
                "SELECT id FROM jobs WHERE +state IN (\(StoredJob.terminalStates)) AND finished_at < ?1 ORDER BY finished_at LIMIT ?2"
            ) { statement in
                try statement.bind(1, cutoff.milliseconds)
                try statement.bind(2, Int64(limit))
                var ids: [String] = []
                while try statement.step() { ids.append(statement.string(0) ?? "") }
                return ids
            }
            for table in ["job_labels", "job_events", "webhook_deliveries", "jobs"] {
                try withStatement(SQLiteSQL("DELETE FROM \(table) WHERE \(table == "jobs" ? "id" : "job_id") = ?1")) { statement in
                    for id in ids {
                        try statement.bind(1, id)
                        _ = try statement.step()
                        statement.reset()
                    }
                }
            }
            return ids
        }
    }

    /// Runs `body` in a savepoint: when it throws, its changes are undone (unless SQLite already
    /// ended the whole transaction) and the error is rethrown.
    func atomically<T>(_ body: () throws -> T) throws -> T {
        try run("SAVEPOINT write")
        do {
            let result = try body()
            try run("RELEASE write")
            return result
        } catch {
            if !isAutocommit {
                try run("ROLLBACK TO write")
                try run("RELEASE write")
            }
            throw error
        }
    }

    private func insertLabels(of record: SQLiteEncodedJob) throws {
        guard !record.labels.isEmpty else { return }
        try withStatement("INSERT INTO job_labels (job_id, key, value, created_at) VALUES (?1, ?2, ?3, ?4)") { statement in
            for (key, value) in record.labels {
                try statement.bind(1, record.id)
                try statement.bind(2, key)
                try statement.bind(3, value)
                try statement.bind(4, record.createdAt.milliseconds)
                _ = try statement.step()
                statement.reset()
            }
        }
    }

    private func deleteLabels(ofJob id: String) throws {
        try withStatement("DELETE FROM job_labels WHERE job_id = ?1") { statement in
            try statement.bind(1, id)
            _ = try statement.step()
        }
    }

    // MARK: - Reads

    func job(_ id: String) throws -> JobRecord? {
        try records(SQLiteJobRows.selectByID) { try $0.bind(1, id) }.first
    }

    /// Newest first (`created_at`, then `id`), after the cursor, state any of `states`, every label
    /// pair present, at most `limit`.
    func jobs(matching query: JobQuery) throws -> [JobRecord] {
        // With a label filter, the first label's index rows (newest first) drive the walk and
        // each is joined to its job (CROSS JOIN keeps that order; the derived table's column
        // names keep the jobs' columns unambiguous); without one, the jobs' own indexes do.
        let labels = query.labels.sorted(by: { $0.key < $1.key })
        var sql: String, parameters: [String] = []
        let order: String
        if let (key, value) = labels.first {
            sql = "SELECT \(StoredJob.columns) FROM (SELECT job_id AS label_job, created_at AS label_time FROM job_labels "
                + "WHERE key = ? AND value = ?) CROSS JOIN jobs ON jobs.id = label_job WHERE 1"
            parameters += [key, value]
            if let after = query.after {
                sql += " AND (label_time, label_job) < (CAST(? AS INTEGER), ?)"
                parameters += [String(after.createdAt.milliseconds), after.id]
            }
            order = " ORDER BY label_time DESC, label_job DESC LIMIT ?"
        } else {
            sql = "SELECT \(StoredJob.columns) FROM jobs WHERE 1"
            if let after = query.after {
                sql += " AND (created_at, id) < (CAST(? AS INTEGER), ?)"
                parameters += [String(after.createdAt.milliseconds), after.id]
            }
            order = " ORDER BY created_at DESC, id DESC LIMIT ?"
        }
        if !query.states.isEmpty {
            sql += " AND state IN (" + Array(repeating: "?", count: query.states.count).joined(separator: ", ") + ")"
            parameters += query.states.map(\.rawValue).sorted()
        }
        if let groupID = query.groupID {
            sql += " AND group_id = ?"
            parameters.append(groupID)
        }
        if let scheduleID = query.scheduleID {
            sql += " AND orchestration IS NOT NULL AND json_extract(orchestration, '$.schedule_id') = ?"
            parameters.append(scheduleID)
        }
        for (key, value) in labels.dropFirst() {
            sql += " AND id IN (SELECT job_id FROM job_labels WHERE key = ? AND value = ?)"
            parameters += [key, value]
        }
        sql += order
        return try records(SQLiteSQL(sql)) { statement in
            for (index, parameter) in parameters.enumerated() { try statement.bind(Int32(index + 1), parameter) }
            try statement.bind(Int32(parameters.count + 1), Int64(max(0, query.limit)))
        }
    }

    /// Jobs not yet terminal, oldest first.
    func unfinishedJobs() throws -> [JobRecord] {
        try records(
            "SELECT \(StoredJob.columns) FROM jobs WHERE state IN (\(StoredJob.unfinishedStates)) ORDER BY id"
        ) { _ in }
    }

    func group(_ id: String) throws -> GroupRecord? {
        try groups("SELECT \(StoredGroup.columns) FROM job_groups WHERE id = ?1") { try $0.bind(1, id) }.first
    }

    /// Newest first, ids below `beforeID`, at most `limit`.
    func groups(beforeID: String?, limit: Int) throws -> [GroupRecord] {
        try groups("SELECT \(StoredGroup.columns) FROM job_groups WHERE id < ?1 ORDER BY id DESC LIMIT ?2") { statement in
            try statement.bind(1, beforeID ?? "\u{10FFFF}")
            try statement.bind(2, Int64(max(0, limit)))
        }
    }

    /// Groups still running, oldest first.
    func unfinishedGroups() throws -> [GroupRecord] {
        try groups("SELECT \(StoredGroup.columns) FROM job_groups WHERE state = 'running' ORDER BY id") { _ in }
    }

    private func groups(_ sql: SQLiteSQL, _ bind: (SQLiteStatement) throws -> Void) throws -> [GroupRecord] {
        try withStatement(sql) { statement in
            try bind(statement)
            var found: [GroupRecord] = []
            while try statement.step() { found.append(try StoredGroup.record(from: statement)) }
            return found
        }
    }

    private func records(_ sql: SQLiteSQL, _ bind: (SQLiteStatement) throws -> Void) throws -> [JobRecord] {
        try withStatement(sql) { statement in
            try bind(statement)
            var found: [JobRecord] = []
            while try statement.step() { found.append(try StoredJob.record(from: statement)) }
            return found
        }
    }
}
