import Dispatch
import Foundation
import JobsdMetrics

/// One thread that runs short actions at deadlines (job timeouts, cleanup timeouts, timed waits),
/// with real cancellation: a cancelled action is dropped at once. (A Dispatch `asyncAfter` keeps
/// a cancelled work item, and what it captures, until its deadline — with a job's timeout of an
/// hour and a thousand jobs a second, millions of them.)
///
/// Actions run on the timer thread, in deadline order: they must be quick and never block.
///
/// Thread-safe: `heap`, `actions` and `nextID` are guarded by `lock`.
final class Deadlines: @unchecked Sendable {
    static let shared = Deadlines()

    /// Names a scheduled action for `cancel`.
    struct Token: Sendable, Hashable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        var at: UInt64  // DispatchTime uptime nanoseconds
        var id: UInt64
    }

    private let lock = PThreadLock()
    // MARK: guarded by `lock`
    /// Min-heap by `at`; may hold cancelled entries (no longer in `actions`), pruned lazily.
    private var heap: [Entry] = []
    private var actions: [UInt64: @Sendable () -> Void] = [:]
    private var nextID: UInt64 = 1
    /// Signalled when an earlier deadline than the one the thread sleeps towards was added.
    private let wakeup = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in run() }
        thread.name = "jobsd.deadlines"
        thread.stackSize = 256 * 1024
        thread.start()
    }

    /// Runs `action` on the timer thread once `seconds` (clamped at 0) have passed, unless
    /// cancelled first.
    @discardableResult
    func schedule(after seconds: Double, _ action: @escaping @Sendable () -> Void) -> Token {
        let at = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, min(seconds, 1e9)) * 1e9)
        let (token, earliest): (Token, Bool) = lock.withLock {
            let id = nextID
            nextID += 1
            actions[id] = action
            push(Entry(at: at, id: id))
            return (Token(id: id), heap[0].id == id)
        }
        if earliest { wakeup.signal() }
        return token
    }

    /// Drops the action if it has not run yet; safe to call more than once.
    func cancel(_ token: Token) {
        lock.withLock {
            guard actions.removeValue(forKey: token.id) != nil else { return }
            // Cancelled entries stay in the heap until they surface; rebuild when they dominate.
            if heap.count > 64, heap.count > 2 * actions.count {
                heap = heap.filter { actions[$0.id] != nil }
                for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
            }
        }
    }

    // MARK: - The timer thread

    private func run() {
        while true {
            var due: [@Sendable () -> Void] = []
            let next: DispatchTime = lock.withLock {
                let now = DispatchTime.now().uptimeNanoseconds
                while let top = heap.first {
                    guard let action = actions[top.id] else {
                        popMin()
                        continue
                    }
                    guard top.at <= now else { break }
                    popMin()
                    actions[top.id] = nil
                    due.append(action)
                }
                return heap.first.map { DispatchTime(uptimeNanoseconds: $0.at) } ?? .distantFuture
            }
            for action in due { action() }
            if due.isEmpty { _ = wakeup.wait(timeout: next) }
        }
    }

    // MARK: - Heap (caller holds `lock`)

    private func push(_ entry: Entry) {
        heap.append(entry)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].at < heap[parent].at else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private func popMin() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
    }

    private func siftDown(_ start: Int) {
        var i = start
        while true {
            let left = 2 * i + 1, right = left + 1
            var smallest = i
            if left < heap.count, heap[left].at < heap[smallest].at { smallest = left }
            if right < heap.count, heap[right].at < heap[smallest].at { smallest = right }
            if smallest == i { return }
            heap.swapAt(i, smallest)
            i = smallest
        }
    }
}
