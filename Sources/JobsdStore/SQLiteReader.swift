import Dispatch

/// Runs queries on a read-only connection on its own serial queue. In WAL mode readers never wait
/// for the writer, and each query sees every transaction committed before it started.
final class SQLiteReader: @unchecked Sendable {
    // `connection` and `closed` are used only on `queue`.
    private let connection: SQLiteConnection
    private let queue = DispatchQueue(label: "jobsd.store.sqlite.reader")
    private var closed = false

    init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Runs `query` on the reader queue. Throws `unavailable` once closed. Cancelling the caller
    /// does not interrupt a query that has started; it runs to its end.
    func read<T: Sendable>(_ query: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit(query) { continuation.resume(with: $0) }
        }
    }

    /// Runs `query` on the reader queue and hands its result to `completion` there, without a
    /// Task (`unavailable` once closed).
    func submit<T: Sendable>(_ query: @escaping @Sendable (SQLiteConnection) throws -> T,
                             completion: @escaping @Sendable (Result<T, any Error>) -> Void) {
        queue.async {
            guard !self.closed else { return completion(.failure(JobStoreError.unavailable("store is closed"))) }
            completion(Result {
                do { return try query(self.connection) } catch let error as SQLiteError { throw error.storeError }
            })
        }
    }

    /// Lets the queries queued before it finish, then closes the connection; later queries throw
    /// `unavailable`.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.closed = true
                self.connection.close()
                continuation.resume()
            }
        }
    }
}
