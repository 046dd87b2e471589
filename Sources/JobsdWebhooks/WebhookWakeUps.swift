import Dispatch
import JobsdAPI
import JobsdCore
import JobsdMetrics

/// How idle webhook workers hear of new work: one subscription to the engine's change feed for
/// all of them (terminal changes: each may have enqueued a delivery), and each change wakes at
/// most one idle worker, so that one job's end costs one worker's look at the outbox, not every
/// worker's. A wake-up that finds no worker idle is kept (at most one per worker) for the next
/// worker that goes idle, so none is lost while all of them are busy.
///
/// Cancellation: `listen()` returns once its task is cancelled (its subscription ends with it);
/// `idle(atMost:)` returns at once when its task is cancelled.
///
/// Thread-safe: `waiters`, `spare` and `lastID` are guarded by `lock`.
final class WebhookWakeUps: @unchecked Sendable {
    /// One call of `idle(atMost:)`, from its start until it returns.
    private enum Waiter {
        /// Not suspended yet.
        case starting
        /// Its task was cancelled before it suspended: it must not suspend.
        case cancelled
        case suspended(CheckedContinuation<Void, Never>)
    }

    private let feed: ChangeFeed
    private let workers: Int
    private let lock = PThreadLock()
    private var waiters: [UInt64: Waiter] = [:]
    private var spare = 0
    private var lastID: UInt64 = 0

    init(feed: ChangeFeed, workers: Int) {
        self.feed = feed
        self.workers = max(1, workers)
    }

    /// Reads the feed's terminal changes until the task is cancelled, waking one idle worker per
    /// change. A subscription cut off for falling behind wakes every worker and is replaced.
    func listen() async {
        while !Task.isCancelled {
            let (subscription, _) = feed.subscribe(ChangeFilter(states: Set(JobState.allCases.filter(\.isTerminal))))
            defer { subscription.cancel() }
            reading: while !Task.isCancelled {
                switch await subscription.next(timeout: 3600) {
                case let .changes(changes): wake(changes.count)
                case .overflowed:
                    wake(workers)
                    break reading
                case .idle: continue
                }
            }
        }
    }

    /// Resumes up to `count` idle workers; the rest are kept for workers that go idle later.
    func wake(_ count: Int) {
        let woken: [CheckedContinuation<Void, Never>] = lock.withLock {
            var woken: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in waiters where woken.count < count {
                guard case let .suspended(continuation) = waiter else { continue }
                waiters[id] = nil
                woken.append(continuation)
            }
            spare = min(workers, spare + count - woken.count)
            return woken
        }
        for continuation in woken { continuation.resume() }
    }

    /// Suspends the calling worker until a wake-up (at once if one is kept), for at most
    /// `seconds`, or until its task is cancelled.
    func idle(atMost seconds: Double) async {
        let id: UInt64? = lock.withLock {
            if spare > 0 {
                spare -= 1
                return nil
            }
            lastID += 1
            waiters[lastID] = .starting
            return lastID
        }
        guard let id else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let suspended: Bool = lock.withLock {
                    guard case .starting? = waiters[id] else {
                        waiters[id] = nil
                        return false
                    }
                    waiters[id] = .suspended(continuation)
                    return true
                }
                guard suspended else { return continuation.resume() }
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in end(id) }
            }
        } onCancel: {
            end(id)
        }
    }

    /// How many workers are suspended in `idle(atMost:)` now.
    var idleWorkers: Int {
        lock.withLock { waiters.values.count { if case .suspended = $0 { true } else { false } } }
    }

    /// Resumes the waiter `id` (its timeout or its task's cancellation); one still starting will
    /// not suspend.
    private func end(_ id: UInt64) {
        let continuation: CheckedContinuation<Void, Never>? = lock.withLock {
            switch waiters[id] {
            case let .suspended(continuation)?:
                waiters[id] = nil
                return continuation
            case .starting?:
                waiters[id] = .cancelled
                return nil
            case .cancelled?, nil:
                return nil
            }
        }
        continuation?.resume()
    }
}
