import JobsdMetrics

/// The writes waiting for the next transaction, shared by the callers (which append) and the
/// writer queue (which takes them all at once). The writer never waits here: it takes what is
/// queued, or ends its drain when nothing is.
final class SQLiteWriteQueue<Item>: @unchecked Sendable {
    // `lock` guards `items`, `draining` and `closed`.
    private let lock = PThreadLock()
    private var items: [Item] = []
    /// True while the writer has been asked to drain and has not yet found the queue empty.
    private var draining = false
    private var closed = false

    enum Admission {
        /// Queued; the writer is already draining and will take it.
        case queued
        /// Queued; the caller must start a drain on the writer queue.
        case queuedStartDrain
        /// Refused: the queue is closed.
        case closed
    }

    func append(_ item: Item) -> Admission {
        lock.withLock {
            guard !closed else { return .closed }
            items.append(item)
            if draining { return .queued }
            draining = true
            return .queuedStartDrain
        }
    }

    /// Refuses later appends; items already queued stay for the last drain.
    func close() {
        lock.withLock { closed = true }
    }

    /// Everything queued, without waiting. When nothing is, the drain is over: the next `append`
    /// answers `.queuedStartDrain`.
    func take() -> [Item] {
        lock.withLock {
            if items.isEmpty { draining = false }
            let taken = items
            items = []
            return taken
        }
    }
}
