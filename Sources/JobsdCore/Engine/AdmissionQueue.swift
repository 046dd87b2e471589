import Dispatch
import JobsdAPI

/// Which queued jobs may start, and when (CONTRACT.md, "Orchestration": concurrency keys and
/// scheduled start). Not thread-safe: every call is made under the engine's lock.
///
/// - A queued job is either *scheduled* (its start time has not come: in `scheduled`, ordered by
///   its monotonic start time) or *waiting* in the queue of its concurrency key (jobs without a
///   key share one queue without a limit), ordered by id, i.e. submission order.
/// - `startable` holds every key queue whose oldest waiting job may start now (fewer of the key
///   running than that job's `concurrency_limit`), ordered by that job's id. A key at its limit
///   is simply not in it, so thousands of jobs waiting on a busy key cost nothing to the others:
///   no head-of-line blocking, O(log n) per start, submission, cancel and finish.
/// - A job never overtakes an earlier waiting job of its key: only the head of a key queue can
///   start, and a scheduled job that becomes due is inserted by id, before later ones.
/// - Priority (`Job.priority`) orders the jobs without a key and the heads of the key queues:
///   the lowest `rank` starts first, ties by id. `rank` = submission time in milliseconds −
///   priority × `agingMilliseconds`, i.e. a job's effective priority is its priority plus one
///   for every `agingMilliseconds` since it was submitted. That order never changes while jobs
///   wait (both sides age alike), so the heaps stay valid, and an old job of low priority is
///   overtaken by newer ones of higher priority for a bounded time only: no starvation. With
///   every priority 0 it is submission order, as before.
/// - Time: a job's start time is kept on the monotonic clock (`startAfter`, uptime nanoseconds),
///   so a wall-clock jump does not move a `delay_seconds` or a retry backoff. A job with an
///   explicit `run_at` (or one recovered after a restart) is also checked against the wall clock
///   when its monotonic time comes: if the wall clock says it is still early (the clock was set
///   back), it is scheduled again for the remaining time. Never early, never lost.
final class AdmissionQueue {
    /// The jobs of one concurrency key (or of none) waiting for a running slot.
    final class KeyQueue: HeapIndexed {
        let key: String?
        /// Jobs of this key that hold a slot (left the queue and not yet terminal or back in it).
        var running = 0
        /// By id (submission order) for a key; by rank, then id, for the jobs without one.
        var waiting: IndexedHeap<LiveJob>
        var heapIndex = -1

        init(key: String?) {
            self.key = key
            waiting = key == nil ? IndexedHeap(by: AdmissionQueue.before) : IndexedHeap(by: { $0.record.job.id < $1.record.job.id })
        }

        /// The oldest waiting job may start now: no key, or fewer running than its limit (the
        /// limit in force is the one of the job being started).
        var canStart: Bool {
            guard let head = waiting.min else { return false }
            return key == nil || running < (head.record.job.concurrencyLimit ?? 1)
        }
    }

    private var keys: [String: KeyQueue] = [:]
    private let unkeyed = KeyQueue(key: nil)
    private var startable = IndexedHeap<KeyQueue>(by: { a, b in
        guard let x = a.waiting.min, let y = b.waiting.min else { return a.waiting.min != nil }
        return AdmissionQueue.before(x, y)
    })
    private var scheduled = IndexedHeap<LiveJob>(by: { $0.startAfter < $1.startAfter })
    /// Queued jobs, scheduled or waiting.
    private(set) var count = 0
    /// `--priority-aging` in milliseconds: the wait worth one priority level.
    var agingMilliseconds: Int64 = 60_000

    /// The order among startable jobs: lower rank first, then submission order.
    static func before(_ a: LiveJob, _ b: LiveJob) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.record.job.id < b.record.job.id
    }


    /// A job that may start now exists.
    var hasStartable: Bool { !startable.isEmpty }

    /// The job `popStartable` would return.
    var nextStartable: LiveJob? { startable.min?.waiting.min }

    /// Monotonic time (uptime ns) the earliest scheduled job is due; nil: none scheduled.
    var nextWake: UInt64? { scheduled.min?.startAfter }

    /// Queues a job: scheduled when its `run_at` is still ahead (a `startAfter` set by the caller
    /// for a delay or backoff wins; otherwise it is derived from `run_at` and the wall clock),
    /// else waiting in its key's queue.
    func add(_ live: LiveJob, now: Instant) {
        count += 1
        live.rank = live.record.job.rank(agingMilliseconds: agingMilliseconds)
        if live.startAfter == 0, let runAt = live.record.job.runAt, runAt > now.wall {
            live.startAfter = now.uptime &+ Self.nanoseconds(now.wall.seconds(until: runAt))
            live.wallBound = true
        }
        if live.startAfter > now.uptime {
            scheduled.insert(live)
        } else {
            wait(live)
        }
    }

    /// Takes a queued job out (cancelled while queued).
    func remove(_ live: LiveJob) {
        if scheduled.contains(live) {
            scheduled.remove(live)
        } else {
            let queue = keyQueue(live.record.job.concurrencyKey)
            queue.waiting.remove(live)
            refresh(queue)
        }
        count -= 1
    }

    /// The oldest job that may start now, out of the queue; it holds a slot of its key until
    /// `release`.
    func popStartable() -> LiveJob? {
        guard let queue = startable.min, let live = queue.waiting.popMin() else { return nil }
        queue.running += 1
        count -= 1
        refresh(queue)
        return live
    }

    /// A job that is not queued takes a slot of its key (a job being recovered after a restart:
    /// its processes may still be alive).
    func occupy(_ live: LiveJob) {
        let queue = keyQueue(live.record.job.concurrencyKey)
        queue.running += 1
    }

    /// The job gave its slot back (terminal, or back in the queue for a retry).
    func release(_ live: LiveJob) {
        let queue = keyQueue(live.record.job.concurrencyKey)
        queue.running -= 1
        refresh(queue)
    }

    /// Moves the scheduled jobs that are due to their key queues; returns how many.
    func releaseDue(now: Instant) -> Int {
        var released = 0
        while let next = scheduled.min, next.startAfter <= now.uptime {
            scheduled.remove(next)
            if next.wallBound, let runAt = next.record.job.runAt, runAt > now.wall {
                next.startAfter = now.uptime &+ Self.nanoseconds(now.wall.seconds(until: runAt))
                scheduled.insert(next)
                continue
            }
            wait(next)
            released += 1
        }
        return released
    }

    private func wait(_ live: LiveJob) {
        live.startAfter = 0
        live.wallBound = false
        let queue = keyQueue(live.record.job.concurrencyKey)
        queue.waiting.insert(live)
        refresh(queue)
    }

    private func keyQueue(_ key: String?) -> KeyQueue {
        guard let key else { return unkeyed }
        if let queue = keys[key] { return queue }
        let queue = KeyQueue(key: key)
        keys[key] = queue
        return queue
    }

    /// Puts the queue in `startable` (at its place) exactly when its head may start; forgets an
    /// idle key.
    private func refresh(_ queue: KeyQueue) {
        startable.remove(queue)
        if queue.canStart { startable.insert(queue) }
        if let key = queue.key, queue.waiting.isEmpty, queue.running <= 0 { keys[key] = nil }
    }

    static func nanoseconds(_ seconds: Double) -> UInt64 { UInt64(max(0, min(seconds, 1e9)) * 1e9) }

    /// One reading of both clocks.
    struct Instant {
        var wall: Timestamp
        var uptime: UInt64

        static func now() -> Instant { Instant(wall: .now(), uptime: DispatchTime.now().uptimeNanoseconds) }
    }
}
