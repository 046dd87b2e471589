import JobsdAPI

/// How a `JobRecord` maps to a `jobs` row: the column list, the statements that write a whole
/// row (values from `SQLiteEncodedJob`); `StoredJob.record(from:)` decodes a row back into a
/// record. Labels, command and spec are stored as JSON text (spec without what other columns hold,
/// see `StoredJob.specJSON`); times as Unix milliseconds.
enum SQLiteJobRows {
    static let insertSQL = SQLiteSQL(
        "INSERT INTO jobs (\(StoredJob.columns)) VALUES (" + (1...StoredJob.columnNames.count).map { "?\($0)" }.joined(separator: ", ") + ")"
    )

    static let updateSQL = SQLiteSQL(
        "UPDATE jobs SET " + StoredJob.updateAssignments { "?\($0)" } + " WHERE id = ?1"
    )

    static let selectByID: SQLiteSQL = "SELECT \(StoredJob.columns) FROM jobs WHERE id = ?1"
    static let selectByIdempotencyKey: SQLiteSQL = "SELECT \(StoredJob.columns) FROM jobs WHERE idempotency_key = ?1"
}
