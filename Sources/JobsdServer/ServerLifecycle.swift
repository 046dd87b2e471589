import JobsdMetrics

/// Whether the server is draining (after the first SIGTERM/SIGINT). Read on every POST and
/// `/readyz`; written once by the shutdown path.
final class ServerLifecycle: @unchecked Sendable {
    /// Guards `draining`.
    private let lock = PThreadLock()
    private var draining = false

    var isDraining: Bool { lock.withLock { draining } }

    func beginDraining() { lock.withLock { draining = true } }
}
