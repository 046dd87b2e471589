import Dispatch
import JobsdMetrics

/// A condition variable for async code: `wait` suspends until a predicate holds; `broadcast`
/// re-checks every waiter's predicate and resumes only those whose predicate now holds (a waiter
/// whose predicate is still false stays suspended: no wake-up, no new timer). Callers change the
/// state the predicate reads (under their own lock), then call `broadcast` — never while holding
/// a lock the predicate takes.
///
/// Thread-safe: `slots` is guarded by `lock`; predicates run under `lock`.
final class AsyncCondition: @unchecked Sendable {
    private let lock = PThreadLock()
    private var slots: [ObjectIdentifier: Slot] = [:]  // guarded by `lock`

    /// One suspended waiter. `state` is guarded by the condition's `lock`.
    private final class Slot: @unchecked Sendable {
        enum State {
            case pending
            case waiting(CheckedContinuation<Void, Never>)
            case done
        }
        var state = State.pending
        /// The timeout's timer, cancelled once the waiter resumes.
        var timer: Deadlines.Token?
        let predicate: () -> Bool

        init(_ predicate: @escaping () -> Bool) { self.predicate = predicate }
    }

    /// Suspends until `predicate` holds, `timeout` seconds pass (nil: no limit), or — when
    /// `cancellable` — the calling task is cancelled. Returns the predicate's last value.
    @discardableResult
    func wait(timeout: Double?, cancellable: Bool = true, until predicate: @escaping () -> Bool) async -> Bool {
        let deadline = timeout.map { DispatchTime.now() + $0 }
        while true {
            if lock.withLock(predicate) { return true }
            if cancellable, Task.isCancelled { return false }
            if let deadline, DispatchTime.now() >= deadline { return false }
            let slot = Slot(predicate)
            let id = ObjectIdentifier(slot)
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    lock.lock()
                    if case .done = slot.state {
                        lock.unlock()
                        c.resume()
                        return
                    }
                    if predicate() {
                        slot.state = .done
                        lock.unlock()
                        c.resume()
                        return
                    }
                    slot.state = .waiting(c)
                    slots[id] = slot
                    if let deadline {
                        let seconds = Double(deadline.uptimeNanoseconds &- min(deadline.uptimeNanoseconds, DispatchTime.now().uptimeNanoseconds)) / 1e9
                        slot.timer = Deadlines.shared.schedule(after: seconds) { [self] in wake(slot) }
                    }
                    lock.unlock()
                }
            } onCancel: {
                if cancellable { wake(slot) }
            }
            if let timer = lock.withLock({ slot.timer }) { Deadlines.shared.cancel(timer) }
        }
    }

    /// Resumes every waiter whose predicate holds now.
    func broadcast() {
        let woken: [Slot] = lock.withLock {
            guard !slots.isEmpty else { return [] }
            var ready: [Slot] = []
            for (id, slot) in slots where slot.predicate() {
                ready.append(slot)
                slots[id] = nil
            }
            return ready
        }
        for slot in woken { resume(slot) }
    }

    private func wake(_ slot: Slot) {
        lock.withLock { _ = slots.removeValue(forKey: ObjectIdentifier(slot)) }
        resume(slot)
    }

    private func resume(_ slot: Slot) {
        let continuation: CheckedContinuation<Void, Never>? = lock.withLock {
            switch slot.state {
            case .pending:
                slot.state = .done
                return nil
            case let .waiting(c):
                slot.state = .done
                return c
            case .done:
                return nil
            }
        }
        continuation?.resume()
    }
}

extension AsyncCondition {
    /// Suspends for `seconds`; not cancellable (used where work must run to its end).
    static func sleep(_ seconds: Double) async {
        await AsyncCondition().wait(timeout: seconds, cancellable: false) { false }
    }
}
