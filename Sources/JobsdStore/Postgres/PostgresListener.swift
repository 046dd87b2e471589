import Dispatch
import JobsdMetrics

/// LISTENs on channels on a connection of its own and hands every NOTIFY to `onNotification`.
/// The connection's socket is watched by one `DispatchSourceRead` on the listener's serial queue
/// (no thread of its own): when it is readable, libpq reads what arrived and the notifications are
/// delivered in order, on that queue.
///
/// Reconnects by itself: when the connection breaks (server restart, network), it retries every
/// `retryInterval` and, once LISTENing again, calls `onReconnect` — notifications sent while it
/// was away are lost, so the owner re-reads what it might have missed there.
/// `stop()` cancels the source and closes the connection; nothing is delivered after it returns.
public final class PostgresListener: @unchecked Sendable {
    public typealias Notification = (channel: String, payload: String)

    // Everything below is used only on `queue`.
    private let queue = DispatchQueue(label: "jobsd.store.postgres.listen")
    private let connection: PostgresConnection
    private let channels: [String]
    private let retryInterval: DispatchTimeInterval
    private let onNotification: @Sendable (Notification) -> Void
    private let onReconnect: @Sendable () -> Void
    private var source: (any DispatchSourceRead)?
    private var retry: (any DispatchSourceTimer)?
    private var stopped = false
    private var listening = false

    /// `channels` are identifiers of jobsd's own (never user input); they are quoted, not bound:
    /// LISTEN takes no parameters.
    public init(
        url: String, channels: [String], retryInterval: DispatchTimeInterval = .seconds(1),
        onNotification: @escaping @Sendable (Notification) -> Void, onReconnect: @escaping @Sendable () -> Void = {}
    ) {
        connection = PostgresConnection(url: url)
        self.channels = channels
        self.retryInterval = retryInterval
        self.onNotification = onNotification
        self.onReconnect = onReconnect
    }

    /// Connects and LISTENs; returns once it listens, or throws `unavailable` when the server
    /// cannot be reached now (it keeps trying in the background then).
    public func start() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                do {
                    try self.attach()
                    continuation.resume()
                } catch let error as PostgresError {
                    self.scheduleRetry()
                    continuation.resume(throwing: error.storeError)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Stops listening and closes the connection; no notification is delivered after it returns.
    public func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.stopped = true
                self.detach()
                self.retry?.cancel()
                self.retry = nil
                self.queue.async { continuation.resume() }  // after the source's cancel handler
            }
        }
    }

    /// True once LISTENing (read on the listener's queue; for tests and readiness).
    public var isListening: Bool { queue.sync { listening } }

    // MARK: - On the queue

    private func attach() throws(PostgresError) {
        guard !stopped else { return }
        try connection.connectIfNeeded()
        for channel in channels { try connection.execute("LISTEN \"\(channel)\"") }
        let source = DispatchSource.makeReadSource(fileDescriptor: connection.socket, queue: queue)
        source.setEventHandler { [weak self] in self?.receive() }
        // The socket is closed only once dispatch no longer watches it (unless a newer session
        // replaced it meanwhile).
        let generation = connection.generation
        source.setCancelHandler { [connection] in
            if connection.generation == generation { connection.close() }
        }
        source.resume()
        self.source = source
        listening = true
    }

    private func detach() {
        if let source {
            source.cancel()  // its cancel handler closes the connection
        } else {
            connection.close()
        }
        source = nil
        listening = false
    }

    private func receive() {
        do {
            for notification in try connection.receiveNotifications() { onNotification(notification) }
        } catch {
            detach()
            scheduleRetry()
        }
    }

    private func scheduleRetry() {
        guard !stopped, retry == nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + retryInterval, repeating: retryInterval)
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            do {
                try self.attach()
                self.retry?.cancel()
                self.retry = nil
                self.onReconnect()
            } catch {
                self.detach()
            }
        }
        timer.resume()
        retry = timer
    }
}
