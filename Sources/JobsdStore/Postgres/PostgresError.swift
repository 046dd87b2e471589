/// A failed libpq call: what was being done, the server's SQLSTATE when it sent one, and the
/// message. `connectionLost` is true when the connection was bad after the call (the next call
/// reconnects).
struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What was being done ("connect", "prepare INSERT INTO jobs…", "LISTEN").
    var context: String
    /// The five-character SQLSTATE (`23505` unique violation, …); nil for client-side failures.
    var sqlState: String?
    var message: String
    var connectionLost = false

    static let uniqueViolation = "23505"
    static let foreignKeyViolation = "23503"

    var description: String {
        "\(context): \(message)" + (sqlState.map { " (SQLSTATE \($0))" } ?? "")
    }

    /// The store-level error callers see: every PostgreSQL failure is `unavailable` (the API
    /// answers 503).
    var storeError: JobStoreError { .unavailable("postgres: \(description)") }
}
