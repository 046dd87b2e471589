import CSQLite

/// One sqlite3 connection with its prepared-statement cache. Not thread-safe: each connection is
/// confined to one serial queue (`SQLiteWriter`, `SQLiteReader`), and every call on it blocks.
final class SQLiteConnection {
    let path: String
    private var handle: OpaquePointer?
    /// Prepared statements by SQL text; bounded because list queries are built per filter shape.
    private var statements: [SQLiteSQL: SQLiteStatement] = [:]
    private static let maximumCachedStatements = 64

    /// Opens (creating if needed) the database at `path` with extended result codes and
    /// `busy_timeout`. Throws with the system reason (e.g. "Not a directory") when it cannot.
    init(path: String, busyTimeoutMilliseconds: Int32 = 5000) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        handle = db
        guard rc == SQLITE_OK, db != nil else {
            let error = lastError("open")
            sqlite3_close_v2(db)
            handle = nil
            throw error
        }
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit { close() }

    /// The rowid of the last row this connection inserted.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Finalizes every cached statement and closes the connection; a no-op the second time. The
    /// last connection to a WAL database checkpoints and removes the WAL file as it closes.
    func close() {
        guard let handle else { return }
        for statement in statements.values { statement.finalize() }
        statements = [:]
        sqlite3_close_v2(handle)
        self.handle = nil
    }

    var isOpen: Bool { handle != nil }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }

    /// True outside an explicit transaction (also after SQLite rolled one back on its own).
    var isAutocommit: Bool { handle.map { sqlite3_get_autocommit($0) != 0 } ?? true }

    /// Rows the last INSERT, UPDATE or DELETE changed.
    var rowsChanged: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }

    // MARK: - Running SQL

    /// Runs one or more statements without parameters or results (pragmas, migrations, BEGIN…).
    func execute(_ sql: String) throws(SQLiteError) {
        guard let handle else { throw SQLiteError(context: sql, code: SQLITE_MISUSE, message: "connection closed") }
        if sqlite3_exec(handle, sql, nil, nil, nil) != SQLITE_OK { throw lastError(String(sql.prefix(60))) }
    }

    /// Runs one parameterless statement (BEGIN, COMMIT, SAVEPOINT…) through the statement cache.
    func run(_ sql: SQLiteSQL) throws {
        try withStatement(sql) { statement in while try statement.step() {} }
    }

    /// Runs `body` with the cached prepared statement for `sql`, and resets it afterwards whatever
    /// happens, so no statement keeps a read transaction open.
    func withStatement<T>(_ sql: SQLiteSQL, _ body: (SQLiteStatement) throws -> T) throws -> T {
        let (statement, cached) = try prepared(sql)
        defer { cached ? statement.reset() : statement.finalize() }
        return try body(statement)
    }

    /// The integer a single-row query such as `PRAGMA user_version` returns.
    func integer(_ sql: SQLiteSQL) throws -> Int64 {
        try withStatement(sql) { statement in
            guard try statement.step(), let value = statement.int64(0) else {
                throw SQLiteError(context: sql.text, code: SQLITE_ERROR, message: "no value returned")
            }
            return value
        }
    }

    /// The extended error of the last failed call, for `context`.
    func lastError(_ context: String) -> SQLiteError {
        guard let handle else { return SQLiteError(context: context, code: SQLITE_CANTOPEN, message: "out of memory") }
        return SQLiteError(
            context: context, code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)),
            systemErrno: sqlite3_system_errno(handle)
        )
    }

    /// The statement for `sql` and whether it is cached; an uncached one (cache full) is
    /// finalized after its single use.
    private func prepared(_ sql: SQLiteSQL) throws(SQLiteError) -> (SQLiteStatement, cached: Bool) {
        if let cached = statements[sql] { return (cached, true) }
        guard let handle else { throw SQLiteError(context: sql.text, code: SQLITE_MISUSE, message: "connection closed") }
        var raw: OpaquePointer?
        guard sqlite3_prepare_v3(handle, sql.text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil) == SQLITE_OK,
              let raw
        else { throw lastError("prepare \(sql.text.prefix(60))") }
        let statement = SQLiteStatement(sql: sql.text, handle: raw, connection: self)
        guard statements.count < Self.maximumCachedStatements else { return (statement, false) }
        statements[sql] = statement
        return (statement, true)
    }
}
