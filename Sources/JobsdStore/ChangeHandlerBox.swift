import JobsdMetrics

/// The change-log observer of a store (`JobStore.observeChanges`), set once at start-up and read
/// after every commit. Thread-safe: `handler` is guarded by `lock`.
final class ChangeHandlerBox: @unchecked Sendable {
    private let lock = PThreadLock()
    private var handler: (@Sendable ([JobChange]) -> Void)?

    func set(_ handler: @escaping @Sendable ([JobChange]) -> Void) { lock.withLock { self.handler = handler } }
    func get() -> (@Sendable ([JobChange]) -> Void)? { lock.withLock { handler } }
}
