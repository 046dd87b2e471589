import Logging

/// What every connection of one server shares: configuration, handlers, hooks, and the count of
/// open connections (for maxConnections and for waiting out the shutdown grace period).
final class HTTPServerContext: @unchecked Sendable {
    let configuration: HTTPServerConfiguration
    let logger: Logger
    let observer: HTTPServerObserver
    let handler: HTTPHandler
    let immediateHandler: HTTPImmediateHandler?
    let headerTimeout: UInt64
    let idleTimeout: UInt64

    private let lock = Lock()
    // Guarded by `lock`: the number of open (admitted) connections and the waiter for it to reach 0.
    private var openConnections = 0
    private var drainWaiter: CheckedContinuation<Void, Never>?

    init(configuration: HTTPServerConfiguration, logger: Logger, observer: HTTPServerObserver,
         immediateHandler: HTTPImmediateHandler?, handler: @escaping HTTPHandler) {
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
        self.handler = handler
        self.immediateHandler = immediateHandler
        headerTimeout = configuration.headerTimeout.nanoseconds
        idleTimeout = configuration.idleTimeout.nanoseconds
    }

    /// Counts a new connection in, unless `maxConnections` are already open.
    func admitConnection() -> Bool {
        let admitted = lock.withLock {
            guard openConnections < configuration.maxConnections else { return false }
            openConnections += 1
            return true
        }
        if admitted { observer.connectionOpened() }
        return admitted
    }

    func connectionClosed() {
        let waiter = lock.withLock {
            openConnections -= 1
            guard openConnections == 0 else { return nil as CheckedContinuation<Void, Never>? }
            defer { drainWaiter = nil }
            return drainWaiter
        }
        observer.connectionClosed()
        waiter?.resume()
    }

    /// Returns when no connection is open, or after `timeout`, whichever comes first.
    /// Not cancellable: it is part of the shutdown that runs after cancellation.
    func waitForNoConnections(timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyDone = lock.withLock {
                if openConnections == 0 { return true }
                drainWaiter = continuation
                return false
            }
            if alreadyDone { return continuation.resume() }
            Task { [self] in
                try? await Task.sleep(for: timeout)
                lock.withLock { () -> CheckedContinuation<Void, Never>? in
                    defer { drainWaiter = nil }
                    return drainWaiter
                }?.resume()
            }
        }
    }
}
