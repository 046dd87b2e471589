import Dispatch
import JobsdMetrics

/// Runs queries on a read-only connection on its own serial queue. In WAL mode readers never wait
/// for the writer, and each query sees every transaction committed before it started.
final class SQLiteReader: @unchecked Sendable {
    // `connection` is used only on `queue`; `lock` guards `closed`.
    private let connection: SQLiteConnection
    private let queue = DispatchQueue(label: "jobsd.store.sqlite.reader")
    private let lock = PThreadLock()
    private var closed = false

    init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Runs `query` on the reader queue. Throws `unavailable` once closed. Cancelling the caller
    /// does not interrupt a query that has started; its answer is then discarded by the caller.
    func read<T: Sendable>(_ query: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                guard !self.lock.withLock({ self.closed }) else {
                    return continuation.resume(throwing: JobStoreError.unavailable("store is closed"))
                }
                continuation.resume(with: Result {
                    do { return try query(self.connection) } catch let error as SQLiteError { throw error.storeError }
                })
            }
        }
    }

    /// Refuses new queries, lets the running one finish and closes the connection.
    func close() async {
        lock.withLock { closed = true }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.connection.close()
                continuation.resume()
            }
        }
    }
}
