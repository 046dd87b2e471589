import JobsdMetrics
import JobsdStore

/// Hands each committed change of the store's change log (`JobStore.observeChanges`) to every
/// subscribed `GET /v1/events` stream, in commit order, without ever waiting for a reader: a
/// subscription buffers what its reader has not taken yet, and is cut off past its byte limit
/// (the reader resumes from its cursor). So a slow reader never slows a job, the store's writer
/// or another reader.
///
/// Thread-safe: `lastPublished` and `subscribers` are guarded by `lock`.
public final class ChangeFeed: @unchecked Sendable {
    private let lock = PThreadLock()
    private var lastPublished: Int64 = 0
    private var subscribers: [ObjectIdentifier: ChangeSubscription] = [:]

    public init() {}

    /// Called by the store after each commit (one caller at a time, in commit order).
    func publish(_ changes: [JobChange]) {
        guard let last = changes.last?.seq else { return }
        let receivers = lock.withLock {
            lastPublished = max(lastPublished, last)
            return Array(subscribers.values)
        }
        for subscription in receivers { subscription.offer(changes) }
    }

    /// Starts numbering from the store's last change (at start-up, before the engine is ready):
    /// a subscriber must know which changes it has to read from the store.
    func prime(lastSeq: Int64) {
        lock.withLock { lastPublished = max(lastPublished, lastSeq) }
    }

    /// A subscription receiving every matching change published from now on, and the highest
    /// `seq` published before it: every change up to that one is already readable from the
    /// store, every later one reaches the subscription. End it with `ChangeSubscription.cancel`.
    public func subscribe(_ filter: ChangeFilter, limit: Int = ChangeSubscription.defaultLimit) -> (ChangeSubscription, publishedThrough: Int64) {
        let subscription = ChangeSubscription(filter: filter, limit: limit) { [weak self] subscription in
            self?.lock.withLock { _ = self?.subscribers.removeValue(forKey: ObjectIdentifier(subscription)) }
        }
        let through = lock.withLock {
            subscribers[ObjectIdentifier(subscription)] = subscription
            return lastPublished
        }
        return (subscription, through)
    }

    /// The highest `seq` published so far (0: none since the engine started).
    public var lastPublishedSeq: Int64 { lock.withLock { lastPublished } }
}
