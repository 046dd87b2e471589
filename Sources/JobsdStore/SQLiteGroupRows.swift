import JobsdAPI

/// How a `GroupRecord` maps to a `job_groups` row: labels, job ids and counts as JSON text, times
/// in Unix milliseconds.
enum SQLiteGroupRows {
    static let columns = "id, name, labels, fail_fast, state, created_at, finished_at, cancel_requested_at, failed_by, jobs, counts"
    static let insertSQL = SQLiteSQL("INSERT INTO job_groups (\(columns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
    static let updateSQL = SQLiteSQL(
        "UPDATE job_groups SET name = ?2, labels = ?3, fail_fast = ?4, state = ?5, created_at = ?6, finished_at = ?7, "
            + "cancel_requested_at = ?8, failed_by = ?9, jobs = ?10, counts = ?11 WHERE id = ?1"
    )

    /// Binds every column, in `columns` order, to ?1…?11.
    static func bind(_ record: GroupRecord, to statement: SQLiteStatement) throws(SQLiteError) {
        let group = record.group
        var jobs = JSONWriter()
        jobs.stringArray(group.jobs)
        var counts = JSONWriter()
        counts.stringMap(Dictionary(uniqueKeysWithValues: group.counts.map { ($0.key.rawValue, String($0.value)) }))
        try statement.bind(1, group.id)
        try statement.bind(2, group.name)
        try statement.bind(3, SQLiteEncodedJob.labelsJSON(group.labels))
        try statement.bind(4, Int64(group.failFast ? 1 : 0))
        try statement.bind(5, group.state.rawValue)
        try statement.bind(6, group.createdAt.milliseconds)
        try statement.bind(7, group.finishedAt?.milliseconds)
        try statement.bind(8, record.cancelRequestedAt?.milliseconds)
        try statement.bind(9, record.failedBy)
        try statement.bind(10, jobs.text)
        try statement.bind(11, counts.text)
    }

    /// The record in the current row of a statement that selected `columns`.
    static func record(from row: SQLiteStatement) throws(JobStoreError) -> GroupRecord {
        let id = row.string(0) ?? ""
        func corrupt(_ column: String) -> JobStoreError { .unavailable("stored group \(id) is corrupt: cannot decode column \(column)") }
        func json(_ column: Int32, _ name: String) throws(JobStoreError) -> JSONValue {
            do { return try JSONValue.parse(row.bytes(column)) } catch { throw corrupt(name) }
        }
        guard case let .object(labelMembers) = try json(2, "labels") else { throw corrupt("labels") }
        var labels: [String: String] = [:]
        for (k, v) in labelMembers {
            guard case let .string(s) = v else { throw corrupt("labels") }
            labels[k] = s
        }
        guard let state = row.string(4).flatMap(GroupState.init(rawValue:)) else { throw corrupt("state") }
        guard let created = row.int64(5) else { throw corrupt("created_at") }
        guard case let .array(items) = try json(9, "jobs") else { throw corrupt("jobs") }
        let jobs = items.compactMap { if case let .string(s) = $0 { s } else { nil } }
        guard jobs.count == items.count else { throw corrupt("jobs") }
        guard case let .object(countMembers) = try json(10, "counts") else { throw corrupt("counts") }
        var counts: [JobState: Int] = [:]
        for (k, v) in countMembers {
            guard let s = JobState(rawValue: k), case let .string(n) = v, let count = Int(n) else { throw corrupt("counts") }
            counts[s] = count
        }
        let group = JobGroup(
            id: id, name: row.string(1), labels: labels, state: state, failFast: row.int64(3) == 1, counts: counts, jobs: jobs,
            createdAt: Timestamp(milliseconds: created), finishedAt: row.int64(6).map(Timestamp.init(milliseconds:)))
        return GroupRecord(
            group: group, cancelRequestedAt: row.int64(7).map(Timestamp.init(milliseconds:)), failedBy: row.string(8))
    }
}
