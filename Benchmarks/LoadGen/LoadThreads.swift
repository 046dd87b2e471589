import Glibc
import JobsdMetrics

/// Runs `body(i)` for i in 0..<count, each on its own POSIX thread (load threads block in
/// socket calls, so they must not share the cooperative pool), and returns the results in order
/// once all threads have ended.
func runThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let results = ResultSlots<T>(count: count)
    var threads: [pthread_t] = []
    for i in 0..<count {
        let start = Unmanaged.passRetained(ThreadStart { results.set(i, body(i)) }).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            Unmanaged<ThreadStart>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, start)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        threads.append(tid)
    }
    for tid in threads { pthread_join(tid, nil) }
    return results.values()
}

private final class ThreadStart {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// One result slot per thread; `lock` guards `slots`.
private final class ResultSlots<T: Sendable>: @unchecked Sendable {
    private let lock = PThreadLock()
    private var slots: [T?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.withLock { slots[i] = value } }
    func values() -> [T] { lock.withLock { slots.map { $0! } } }
}
