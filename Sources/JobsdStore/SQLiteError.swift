import CSQLite
import Glibc

/// A failed sqlite3 call: the call's context, the extended result code and SQLite's message.
struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// What was being done ("prepare", "step INSERT INTO jobs…", "open /data/jobs.sqlite").
    var context: String
    /// The extended result code (`SQLITE_IOERR_FSYNC`, …); `code & 0xff` is the primary code.
    var code: Int32
    var message: String
    /// `errno` of the failing system call, when SQLite reports one (0 otherwise).
    var systemErrno: Int32 = 0

    var primaryCode: Int32 { code & 0xff }

    /// True when the error concerns only the statement that hit it (a constraint, a too-large
    /// value) and the surrounding transaction can go on; false for disk, I/O, lock and corruption
    /// errors, after which the whole transaction is abandoned.
    var isStatementLocal: Bool {
        [SQLITE_CONSTRAINT, SQLITE_TOOBIG, SQLITE_MISMATCH, SQLITE_RANGE].contains(primaryCode)
    }

    /// The system's reason when there is one ("Permission denied"), else SQLite's message.
    var reason: String {
        guard systemErrno != 0, let text = strerror(systemErrno) else { return message }
        return String(cString: text)
    }

    var description: String {
        var text = "\(context): \(message) (sqlite code \(code))"
        if systemErrno != 0 { text += ", \(reason)" }
        return text
    }

    /// The store-level error callers see: every SQLite failure is `unavailable` (the API answers 503).
    var storeError: JobStoreError { .unavailable(description) }
}
