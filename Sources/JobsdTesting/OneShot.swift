import Foundation
import JobsdMetrics

/// A signal that fires once; waiters resume when it fires or at their deadline.
/// `lock` guards `fired` and `waiters`.
final class OneShot: @unchecked Sendable {
    private let lock = PThreadLock()
    private var fired = false
    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]

    func fire() {
        let resumed = lock.withLock {
            fired = true
            defer { waiters = [:] }
            return Array(waiters.values)
        }
        for waiter in resumed { waiter.resume() }
    }

    /// Returns once fired, or at `deadline`.
    func wait(timeout deadline: ContinuousClock.Instant) async {
        let id = UUID()
        let timer = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            let waiter = lock.withLock { waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
        defer { timer.cancel() }
        await withCheckedContinuation { continuation in
            let resumeNow = lock.withLock {
                if fired || ContinuousClock.now >= deadline { return true }
                waiters[id] = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}
