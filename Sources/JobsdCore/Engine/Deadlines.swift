import CProcessSupport
import Dispatch
import Glibc
import JobsdMetrics

/// Runs short actions at deadlines (job timeouts, cleanup timeouts, timed waits), with real
/// cancellation: a cancelled action is dropped at once. (A Dispatch `asyncAfter` keeps a cancelled
/// work item, and what it captures, until its deadline — with a job's timeout of an hour and a
/// thousand jobs a second, millions of them.) One timerfd on the monotonic clock, armed for the
/// earliest deadline of a heap and watched by a `DispatchSourceRead` on a serial queue (never
/// cancelled; a timerfd never reports a hang-up); no thread of its own. Armed with relative times,
/// not as a `DispatchSourceTimer`: libdispatch arms absolute timerfds, which libfaketime shifts
/// by its offset even on the monotonic clock, so the wall-clock jump test could not tell a real
/// fault from the tool's.
///
/// Actions run on that queue, in deadline order: they must be quick and never block.
///
/// Thread-safe: `heap`, `actions` and `nextID` are guarded by `lock`; the timerfd is armed only
/// under `lock`, so the last arming is always for the heap's earliest entry.
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

    private let timer: Int32
    private let readiness: any DispatchSourceRead
    private let lock = PThreadLock()
    // MARK: guarded by `lock`
    /// Min-heap by `at`; may hold cancelled entries (no longer in `actions`), pruned lazily.
    private var heap: [Entry] = []
    private var actions: [UInt64: @Sendable () -> Void] = [:]
    private var nextID: UInt64 = 1

    private init() {
        timer = jobsd_timerfd_create()
        guard timer >= 0 else { fatalError("cannot create the deadline timer (timerfd): \(String(cString: strerror(errno)))") }
        readiness = DispatchSource.makeReadSource(fileDescriptor: timer, queue: DispatchQueue(label: "jobsd.deadlines"))
        readiness.setEventHandler { [self] in fire() }
        readiness.resume()
    }

    /// Runs `action` on the timer's queue once `seconds` (clamped at 0) have passed, unless
    /// cancelled first.
    @discardableResult
    func schedule(after seconds: Double, _ action: @escaping @Sendable () -> Void) -> Token {
        let at = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, min(seconds, 1e9)) * 1e9)
        return lock.withLock {
            let id = nextID
            nextID += 1
            actions[id] = action
            push(Entry(at: at, id: id))
            if heap[0].id == id { arm(at) }
            return Token(id: id)
        }
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

    /// The timerfd's handler: runs what is due, then arms the timer for the next deadline.
    private func fire() {
        var expirations: UInt64 = 0
        _ = read(timer, &expirations, 8)  // EAGAIN when re-armed meanwhile: look at the heap anyway
        let due: [@Sendable () -> Void] = lock.withLock {
            var due: [@Sendable () -> Void] = []
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
            arm(heap.first?.at)
            return due
        }
        for action in due { action() }
    }

    /// Arms the timerfd for `at` (uptime nanoseconds; at least 1 ns from now), or disarms it for
    /// nil. Caller holds `lock`.
    private func arm(_ at: UInt64?) {
        let now = DispatchTime.now().uptimeNanoseconds
        _ = jobsd_timerfd_arm(timer, at.map { $0 > now ? $0 - now : 1 } ?? 0)
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
