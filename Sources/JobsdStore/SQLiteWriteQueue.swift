import Glibc

/// The writes waiting for the next transaction, shared by the callers (which append) and the
/// writer queue (which takes them in batches). A pthread mutex and condition variable, because the
/// writer waits briefly for stragglers (see `take`).
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

    /// A point on `CLOCK_MONOTONIC` until which `take` may wait.
    struct Deadline {
        fileprivate var time = timespec()

        init(after duration: Duration) {
            clock_gettime(CLOCK_MONOTONIC, &time)
            let nanoseconds = Int(time.tv_nsec) + Int(duration.components.seconds) * 1_000_000_000
                + Int(duration.components.attoseconds / 1_000_000_000)
            time.tv_sec += nanoseconds / 1_000_000_000
            time.tv_nsec = nanoseconds % 1_000_000_000
        }
    }

    /// Everything queued, waiting until something is or `deadline` passes (no waiting once
    /// closed). When nothing came and `endingDrainIfEmpty` is set, the drain is over: the next
    /// `append` answers `.queuedStartDrain`.
    func take(until deadline: Deadline, endingDrainIfEmpty: Bool) -> [Item] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var time = deadline.time
        while items.isEmpty, !closed, pthread_cond_timedwait(arrival, mutex, &time) != ETIMEDOUT {}
        if items.isEmpty, endingDrainIfEmpty { draining = false }
        defer { items = [] }
        return items
    }
}
