import JobsdAPI

/// The statements that write a `job_groups` row in SQLite (layout: `StoredGroup`).
enum SQLiteGroupRows {
    static let insertSQL = SQLiteSQL("INSERT INTO job_groups (\(StoredGroup.columns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
    static let updateSQL = SQLiteSQL(
        "UPDATE job_groups SET name = ?2, labels = ?3, fail_fast = ?4, state = ?5, created_at = ?6, finished_at = ?7, "
            + "cancel_requested_at = ?8, failed_by = ?9, jobs = ?10, counts = ?11 WHERE id = ?1"
    )

    /// Binds every column, in `StoredGroup.columns` order, to ?1…?11.
    static func bind(_ record: GroupRecord, to statement: SQLiteStatement) throws(SQLiteError) {
        let group = record.group
        try statement.bind(1, group.id)
        try statement.bind(2, group.name)
        try statement.bind(3, StoredJob.labelsJSON(group.labels))
        try statement.bind(4, Int64(group.failFast ? 1 : 0))
        try statement.bind(5, group.state.rawValue)
        try statement.bind(6, group.createdAt.milliseconds)
        try statement.bind(7, group.finishedAt?.milliseconds)
        try statement.bind(8, record.cancelRequestedAt?.milliseconds)
        try statement.bind(9, record.failedBy)
        try statement.bind(10, StoredGroup.jobsJSON(group))
        try statement.bind(11, StoredGroup.countsJSON(group))
    }
}
