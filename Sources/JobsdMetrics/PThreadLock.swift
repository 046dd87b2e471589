import Glibc

/// A mutex over `pthread_mutex_t`. Used instead of `Synchronization.Mutex`, which the thread
/// sanitizer reports falsely.
public final class PThreadLock: @unchecked Sendable {
    // The mutex is heap-allocated once and never moved; pthread calls are the only access.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    @discardableResult
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
