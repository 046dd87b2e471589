import JobsdAPI

/// The change log (`job_changes`) behind `GET /v1/events`: appended in the writer's transaction,
/// read on the reader connection.
extension SQLiteConnection {
    static let sweptThroughKey = "changes_swept_through"

    /// Appends the record's job, as written, to the change log and returns the entry, numbered.
    func insertChange(of record: SQLiteEncodedJob) throws -> JobChange {
        let job = record.boxed.record.job
        try withStatement("INSERT INTO job_changes (at, job_id, state, labels, job) VALUES (?1, ?2, ?3, ?4, ?5)") { statement in
            try statement.bind(1, Timestamp.now().milliseconds)
            try statement.bind(2, job.id)
            try statement.bind(3, job.state.rawValue)
            try statement.bind(4, record.labelsJSON)
            try statement.bind(5, record.jobJSON)
            _ = try statement.step()
        }
        return JobChange(seq: lastInsertRowID, jobID: job.id, state: job.state, labels: job.labels, json: record.jobJSON)
    }

    /// Removes the oldest changes logged before `cutoff`, at most `limit`, and remembers the
    /// highest `seq` removed. The log is in time order (`seq` follows `at`, but for clock steps),
    /// so the walk starts at its head and stops at the first change not older than `cutoff`: a
    /// sweep's chunk with nothing to remove reads one row, not the whole log.
    func purgeChanges(before cutoff: Timestamp, limit: Int) throws {
        let last = try withStatement("SELECT seq, at FROM job_changes ORDER BY seq LIMIT ?1") { statement -> Int64? in
            try statement.bind(1, Int64(limit))
            var last: Int64?
            while try statement.step(), let at = statement.int64(1), at < cutoff.milliseconds { last = statement.int64(0) }
            return last
        }
        guard let last else { return }
        try withStatement("DELETE FROM job_changes WHERE seq <= ?1") { statement in
            try statement.bind(1, last)
            _ = try statement.step()
        }
        try withStatement("INSERT OR REPLACE INTO store_meta (key, value) VALUES (?1, ?2)") { statement in
            try statement.bind(1, Self.sweptThroughKey)
            try statement.bind(2, last)
            _ = try statement.step()
        }
    }

    func changes(after: Int64, limit: Int) throws -> JobChangePage {
        let swept = try withStatement("SELECT value FROM store_meta WHERE key = ?1") { statement in
            try statement.bind(1, Self.sweptThroughKey)
            return try statement.step() ? statement.int64(0) ?? 0 : 0
        }
        guard after >= swept else { return .expired }
        return .changes(try withStatement("SELECT seq, job_id, state, labels, job FROM job_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2") { statement in
            try statement.bind(1, after)
            try statement.bind(2, Int64(limit))
            var found: [JobChange] = []
            while try statement.step() {
                found.append(JobChange(
                    seq: statement.int64(0) ?? 0, jobID: statement.string(1) ?? "", state: JobState(rawValue: statement.string(2) ?? "") ?? .queued,
                    labels: (try? JSONValue.parse(statement.bytes(3)))?.stringMap ?? [:], json: statement.string(4) ?? "{}"))
            }
            return found
        })
    }

    /// The highest `seq` ever given (AUTOINCREMENT's high-water mark survives deletes).
    func lastChangeSeq() throws -> Int64 {
        try withStatement("SELECT seq FROM sqlite_sequence WHERE name = 'job_changes'") { statement in
            try statement.step() ? statement.int64(0) ?? 0 : 0
        }
    }
}
