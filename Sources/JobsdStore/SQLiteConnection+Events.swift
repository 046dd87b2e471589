import JobsdAPI

/// The timeline queries (`job_events`): writes inside the writer's transaction, reads on the
/// reader connection.
extension SQLiteConnection {
    static let insertEventSQL: SQLiteSQL = "INSERT OR IGNORE INTO job_events (job_id, seq, at, type, fields) VALUES (?1, ?2, ?3, ?4, ?5)"

    /// Appends the record's events; one already stored (same job and `seq`) is left as it is, so
    /// this fails only when the whole transaction does.
    func insertEvents(of record: SQLiteEncodedJob) throws {
        guard !record.events.isEmpty else { return }
        try withStatement(Self.insertEventSQL) { statement in
            for (event, fields) in record.events {
                try bind(event, fields: fields, jobID: record.id, to: statement)
                _ = try statement.step()
                statement.reset()
            }
        }
    }

    /// Appends `event` numbered after the job's last event; `notFound` for an unknown job.
    func appendEvent(_ event: JobEvent, toJob id: String) throws -> JobEvent {
        let exists = try withStatement("SELECT 1 FROM jobs WHERE id = ?1") { statement in
            try statement.bind(1, id)
            return try statement.step()
        }
        guard exists else { throw JobStoreError.notFound(id) }
        var numbered = event
        numbered.seq = Int(try withStatement("SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job_id = ?1") { statement in
            try statement.bind(1, id)
            _ = try statement.step()
            return statement.int64(0) ?? 1
        })
        try withStatement(Self.insertEventSQL) { statement in
            try bind(numbered, fields: numbered.fieldsJSON, jobID: id, to: statement)
            _ = try statement.step()
        }
        return numbered
    }

    private func bind(_ event: JobEvent, fields: String, jobID: String, to statement: SQLiteStatement) throws {
        try statement.bind(1, jobID)
        try statement.bind(2, Int64(event.seq))
        try statement.bind(3, event.at.milliseconds)
        try statement.bind(4, event.type.rawValue)
        try statement.bind(5, fields)
    }

    func events(ofJob id: String) throws -> [JobEvent] {
        try withStatement("SELECT seq, at, type, fields FROM job_events WHERE job_id = ?1 ORDER BY seq") { statement in
            try statement.bind(1, id)
            var events: [JobEvent] = []
            while try statement.step() {
                events.append(JobEvent(
                    JobEvent.Kind(rawValue: statement.string(2) ?? ""), at: Timestamp(milliseconds: statement.int64(1) ?? 0),
                    seq: Int(statement.int64(0) ?? 0), JobEvent.fields(fromJSON: statement.string(3) ?? "{}")))
            }
            return events
        }
    }

    func lastEventSeqOfUnfinishedJobs() throws -> [String: Int] {
        try withStatement(SQLiteSQL("""
            SELECT job_id, MAX(seq) FROM job_events
            WHERE job_id IN (SELECT id FROM jobs WHERE state IN (\(StoredJob.unfinishedStates))) GROUP BY job_id
            """)) { statement in
            var last: [String: Int] = [:]
            while try statement.step() { last[statement.string(0) ?? ""] = Int(statement.int64(1) ?? 0) }
            return last
        }
    }
}
