import Glibc

/// The writes waiting for the next transaction, shared by the callers (which append) and the
/// writer queue (which takes them in batches). A pthread mutex and condition variable, because the
/// writer waits briefly for stragglers (see `takeBatch`).
final class SQLiteWriteQueue<Item>: @unchecked Sendable {
    // `mutex` guards `items`, `draining` and `closed`; `arrival` is signalled on every append and
    // on close. Both are heap-allocated once and never moved.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let arrival = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
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

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(arrival, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(arrival)
        pthread_mutex_destroy(mutex)
        arrival.deallocate()
        mutex.deallocate()
    }

    func append(_ item: Item) -> Admission {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !closed else { return .closed }
        items.append(item)
        pthread_cond_signal(arrival)
        if draining { return .queued }
        draining = true
        return .queuedStartDrain
    }

    /// Refuses later appends; items already queued stay for the last drain.
    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_signal(arrival)
        pthread_mutex_unlock(mutex)
    }

    /// Everything queued, after waiting up to `window` for the queue to hold `expected` items (the
    /// size of the previous batch: those callers are being resumed and are about to write again).
    /// Returns nil, and ends the drain, when nothing arrived.
    func takeBatch(expecting expected: Int, window: Duration) -> [Item]? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if items.count < expected, !closed {
            var deadline = timespec()
            clock_gettime(CLOCK_MONOTONIC, &deadline)
            let nanoseconds = Int(deadline.tv_nsec) + Int(window.components.attoseconds / 1_000_000_000)
            deadline.tv_sec += nanoseconds / 1_000_000_000
            deadline.tv_nsec = nanoseconds % 1_000_000_000
            while items.count < expected, !closed, pthread_cond_timedwait(arrival, mutex, &deadline) != ETIMEDOUT {}
        }
        guard !items.isEmpty else {
            draining = false
            return nil
        }
        defer { items = [] }
        return items
    }
}
