import JobsdMetrics
import JobsdStore

/// One reader's share of the `ChangeFeed`: the matching changes it has not taken yet. Past
/// `limit` bytes of job JSON waiting, it is cut off (`overflowed`) and its buffer dropped.
///
/// Thread-safe: `buffer`, `bytes`, `overflowed` and `cancelled` are guarded by `lock`.
public final class ChangeSubscription: @unchecked Sendable {
    /// 1 MiB of unsent events (CONTRACT.md, "The event stream").
    public static let defaultLimit = 1 << 20

    public enum Next: Sendable {
        case changes([JobChange])
        /// The reader fell more than `limit` bytes behind; the stream must end.
        case overflowed
        /// Nothing arrived within the timeout.
        case idle
    }

    let filter: ChangeFilter
    private let limit: Int
    private let onCancel: @Sendable (ChangeSubscription) -> Void
    private let lock = PThreadLock()
    private var buffer: [JobChange] = []
    private var bytes = 0
    private var overflowed = false
    private var cancelled = false
    private let arrived = AsyncCondition()

    init(filter: ChangeFilter, limit: Int, onCancel: @escaping @Sendable (ChangeSubscription) -> Void) {
        self.filter = filter
        self.limit = limit
        self.onCancel = onCancel
    }

    /// Buffers the matching changes; never blocks on the reader.
    func offer(_ changes: [JobChange]) {
        let matching = changes.filter(filter.matches)
        guard !matching.isEmpty else { return }
        lock.withLock {
            guard !overflowed, !cancelled else { return }
            buffer += matching
            bytes += matching.reduce(0) { $0 + $1.json.utf8.count }
            if bytes > limit {
                overflowed = true
                buffer = []
            }
        }
        arrived.broadcast()
    }

    /// Everything buffered, or waits up to `timeout` seconds for more. Returns `.idle` at the
    /// timeout and when the calling task is cancelled.
    public func next(timeout: Double) async -> Next {
        _ = await arrived.wait(timeout: timeout) { [self] in lock.withLock { !buffer.isEmpty || overflowed } }
        return lock.withLock {
            if overflowed { return .overflowed }
            guard !buffer.isEmpty else { return .idle }
            defer {
                buffer = []
                bytes = 0
            }
            return .changes(buffer)
        }
    }

    /// Stops receiving changes. Safe to call more than once.
    public func cancel() {
        let first = lock.withLock {
            defer { cancelled = true }
            return !cancelled
        }
        if first { onCancel(self) }
    }
}
