import CoreMetrics
import CPostgres
import Glibc

/// A value bound to a query parameter, sent in PostgreSQL's text format (or, for `PostgresBytes`,
/// its binary format). Parameters are always bound (`$1`, `$2`…), never spliced into SQL text.
protocol PostgresBindable: Sendable {
    var postgresText: String { get }
    /// The value in binary format, sent as is; nil: send `postgresText`.
    var postgresBinary: [UInt8]? { get }
}

extension PostgresBindable {
    var postgresBinary: [UInt8]? { nil }
}

/// Bytes for a `bytea` parameter, sent in binary format (the raw bytes: no hex doubling, no
/// escaping).
struct PostgresBytes: PostgresBindable {
    let bytes: [UInt8]
    var postgresText: String { "" }
    var postgresBinary: [UInt8]? { bytes }
}

extension String: PostgresBindable { var postgresText: String { self } }
extension Int64: PostgresBindable { var postgresText: String { String(self) } }
extension Int: PostgresBindable { var postgresText: String { String(self) } }
extension Int32: PostgresBindable { var postgresText: String { String(self) } }
/// Swift prints the shortest text that reads back as the same double, and PostgreSQL's float8
/// input is exact for it.
extension Double: PostgresBindable { var postgresText: String { "\(self)" } }
extension Bool: PostgresBindable { var postgresText: String { self ? "t" : "f" } }

/// One libpq connection (`PGconn`), used by one thread at a time (the serial queue of its
/// `PostgresPool` slot or of a `PostgresListener`); not thread-safe.
///
/// Connects lazily and reconnects by itself: the first call after the connection was lost opens a
/// new one (and forgets the prepared statements, which die with a session). Every parameterised
/// query is a prepared statement, prepared once per connection under a name of its own.
/// Blocking: every call blocks its thread for a network round trip (never call it on the Swift
/// cooperative pool). Timeouts: connecting gives up after `connect_timeout` (5 s unless the URL
/// says otherwise) and a dead peer is noticed by TCP keepalives and `tcp_user_timeout` (10 s);
/// there is no per-query timeout.
final class PostgresConnection {
    /// The connection URL with jobsd's defaults for timeouts added.
    let url: String
    private var handle: OpaquePointer?
    /// SQL text → prepared statement name, for this session.
    private var prepared: [String: String] = [:]
    /// Round trips to the server made through this connection (for the metrics).
    private(set) var roundTrips = 0
    /// Records each round trip's duration (`jobsd_store_round_trip_seconds`); nil: not recorded.
    private let roundTripTimer: CoreMetrics.Timer?
    /// Counts the sessions opened: tells a session from the one before it on the same socket number.
    private(set) var generation = 0

    /// The longest a transaction of this session may sit idle between statements, in seconds
    /// (`idle_in_transaction_session_timeout`, set on every connect); nil: the server's setting.
    /// A process frozen inside a transaction (SIGSTOP, a paused VM) then loses its session and
    /// with it every lock it held, instead of stalling every node that needs those locks.
    private let idleInTransactionLimit: Double?

    init(url: String, roundTripTimer: CoreMetrics.Timer? = nil, idleInTransactionLimit: Double? = nil) {
        self.url = Self.withDefaults(url)
        self.roundTripTimer = roundTripTimer
        self.idleInTransactionLimit = idleInTransactionLimit
    }

    deinit { close() }

    /// Adds `connect_timeout`, keepalive and `tcp_user_timeout` settings the URL does not set, so a
    /// vanished server is noticed in seconds instead of hanging a call for minutes.
    static func withDefaults(_ url: String) -> String {
        let defaults = [
            "connect_timeout": "5", "keepalives_idle": "5", "keepalives_interval": "2", "keepalives_count": "3",
            "tcp_user_timeout": "10000", "application_name": "jobsd",
        ]
        var result = url
        for (key, value) in defaults.sorted(by: { $0.key < $1.key }) where !url.contains("\(key)=") {
            result += (result.contains("?") ? "&" : "?") + "\(key)=\(value)"
        }
        return result
    }

    var isConnected: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// The connection's socket (for a read source), or -1 when not connected.
    var socket: Int32 { handle.map { PQsocket($0) } ?? -1 }

    /// Opens the connection when there is none or it was lost. Throws with libpq's reason when the
    /// server cannot be reached or refuses.
    func connectIfNeeded() throws(PostgresError) {
        if isConnected { return }
        close()
        guard let connection = roundTrip({ PQconnectdb(url) }) else {
            throw PostgresError(context: "connect", message: "out of memory", connectionLost: true)
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingTrailingNewlines
            PQfinish(connection)
            throw PostgresError(context: "connect", message: message, connectionLost: true)
        }
        PQsetNoticeProcessor(connection, { _, _ in }, nil)  // "already exists, skipping" and the like
        handle = connection
        generation += 1
        if let idleInTransactionLimit {
            do {
                try execute("SET idle_in_transaction_session_timeout = \(max(1, Int(idleInTransactionLimit * 1000)))")
            } catch {
                close()
                throw error
            }
        }
    }

    /// Closes the connection (a later call reconnects).
    func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        prepared = [:]
    }

    /// Runs one blocking libpq call that makes a round trip to the server: counts it and
    /// records its duration on the monotonic clock.
    private func roundTrip<T>(_ call: () -> T) -> T {
        let started = ContinuousClock.now
        let value = call()
        roundTrips += 1
        if let roundTripTimer {
            let elapsed = started.duration(to: .now).components
            roundTripTimer.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        }
        return value
    }

    // MARK: - Queries

    /// Runs `sql` with `parameters` bound to `$1…$n` as a prepared statement (prepared on first
    /// use on this connection) and returns its rows. Throws with the server's SQLSTATE on failure;
    /// when the connection broke, it is closed and the next call reconnects.
    func query(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws(PostgresError) -> PostgresResult {
        try connectIfNeeded()
        guard let handle else { throw PostgresError(context: "query", message: "not connected", connectionLost: true) }
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "jobsd_\(prepared.count + 1)"
            let result = roundTrip { PQprepare(handle, name, sql, Int32(parameters.count), nil) }
            _ = try check(result, context: "prepare " + Self.summary(sql))
            prepared[sql] = name
        }
        let result = roundTrip {
            if parameters.contains(where: { $0?.postgresBinary != nil }) { return Self.execBinary(handle, name, parameters) }
            return withCStrings(parameters.map { $0?.postgresText }) { values in
                PQexecPrepared(handle, name, Int32(values.count), values, nil, nil, 0)
            }
        }
        return try check(result, context: Self.summary(sql))
    }

    /// Runs `sql` (one or more statements, no parameters) with the simple query protocol: for
    /// transaction control, LISTEN and schema changes.
    func execute(_ sql: String) throws(PostgresError) {
        try connectIfNeeded()
        guard let handle else { throw PostgresError(context: "execute", message: "not connected", connectionLost: true) }
        let result = roundTrip { PQexec(handle, sql) }
        _ = try check(result, context: Self.summary(sql))
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws (the error is
    /// rethrown). A lost connection aborts the transaction on the server by itself.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        let value: T
        do {
            value = try body()
        } catch {
            if isConnected { try? execute("ROLLBACK") }
            throw error
        }
        try execute("COMMIT")
        return value
    }

    // MARK: - Notifications

    /// Reads what arrived on the socket and returns the notifications received (channel, payload).
    /// Throws `connectionLost` when the connection broke (it stays open: the caller stops watching
    /// its socket first, then closes it).
    func receiveNotifications() throws(PostgresError) -> [(channel: String, payload: String)] {
        guard let handle else { throw PostgresError(context: "receive", message: "not connected", connectionLost: true) }
        guard PQconsumeInput(handle) == 1 else {
            let message = String(cString: PQerrorMessage(handle)).trimmingTrailingNewlines
            throw PostgresError(context: "receive notifications", message: message, connectionLost: true)
        }
        var received: [(channel: String, payload: String)] = []
        while let notification = PQnotifies(handle) {
            received.append((String(cString: notification.pointee.relname), String(cString: notification.pointee.extra)))
            PQfreemem(notification)
        }
        return received
    }

    // MARK: - Helpers

    /// Takes ownership of `result`: returns it when the command succeeded, else frees it and throws.
    private func check(_ result: OpaquePointer?, context: String) throws(PostgresError) -> PostgresResult {
        guard let result else {
            let message = handle.map { String(cString: PQerrorMessage($0)).trimmingTrailingNewlines } ?? "no result"
            let lost = !isConnected
            if lost { close() }
            throw PostgresError(context: context, message: message, connectionLost: lost)
        }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let message = String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            PQclear(result)
            let lost = !isConnected
            if lost { close() }
            throw PostgresError(context: context, sqlState: state, message: message, connectionLost: lost)
        }
        return PostgresResult(result)
    }

    /// `PQexecPrepared` with each binary parameter's bytes as they are (format 1, with its length)
    /// and the others as NUL-terminated text.
    private static func execBinary(_ handle: OpaquePointer, _ name: String, _ parameters: [(any PostgresBindable)?]) -> OpaquePointer? {
        let values: [[UInt8]?] = parameters.map { parameter in
            parameter.map { $0.postgresBinary ?? Array($0.postgresText.utf8) + [0] }
        }
        let formats = parameters.map { Int32($0?.postgresBinary == nil ? 0 : 1) }
        let lengths = values.map { Int32($0?.count ?? 0) }
        let copies: [UnsafeMutablePointer<UInt8>?] = values.map { value in
            value.map { bytes in
                let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
                copy.initialize(from: bytes, count: bytes.count)
                return copy
            }
        }
        defer { for copy in copies { copy?.deallocate() } }
        let pointers = copies.map { $0.map { UnsafePointer<CChar>(OpaquePointer($0)) } }
        return PQexecPrepared(handle, name, Int32(values.count), pointers, lengths, formats, 0)
    }

    private static func summary(_ sql: String) -> String {
        String(sql.prefix { $0 != "(" && $0 != "\n" }.prefix(48))
    }
}

/// Calls `body` with NUL-terminated copies of `strings` (nil stays a null pointer, SQL NULL), freed
/// afterwards.
private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { $0.map { strdup($0)! } }
    defer { for copy in copies { free(copy) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}

extension String {
    fileprivate var trimmingTrailingNewlines: String {
        var text = self
        while text.last?.isNewline == true { text.removeLast() }
        return text
    }
}
