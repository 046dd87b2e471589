import Glibc
import Logging

/// An HTTP/1.1 server on POSIX sockets and Dispatch: one serial `DispatchQueue` per core (or
/// `eventLoopCount`), each with its own `SO_REUSEPORT` listener and epoll set (see `EventLoop`),
/// owns a share of the connections. A request the immediate handler answers is answered on the
/// loop's queue without a hop; any other request's handler runs in its own Task, so handlers run
/// concurrently across connections and a slow one never blocks another connection. JobsdHTTP
/// creates no thread of its own: Dispatch and the Swift concurrency pool run everything.
///
/// Lifecycle (a swift-service-lifecycle style `run()`): `run()` binds and serves until the calling
/// Task is cancelled, then stops accepting (closes the listener), closes idle connections, lets
/// in-flight requests finish for up to `shutdownGracePeriod` (their responses carry
/// `Connection: close`), then cancels the remaining handler Tasks and closes every connection.
public final class HTTPServer: Sendable {
    private let context: HTTPServerContext
    private let listening = ListeningState()

    /// `immediateHandler`, when given, is asked first for every request, on an event loop's queue
    /// (see `HTTPImmediateHandler`); `handler` answers the requests it returns nil for.
    public init(configuration: HTTPServerConfiguration, logger: Logger, observer: HTTPServerObserver = .init(),
                immediateHandler: HTTPImmediateHandler? = nil, handler: @escaping HTTPHandler) {
        context = HTTPServerContext(configuration: configuration, logger: logger, observer: observer,
                                    immediateHandler: immediateHandler, handler: handler)
    }

    /// Binds and serves; returns after cancellation and the shutdown described above. Throws
    /// `HTTPServerError.invalidAddress` / `.listenFailed` when it cannot listen. Call it once.
    public func run() async throws {
        let configuration = context.configuration
        Self.raiseDescriptorLimit()
        let loopCount = configuration.eventLoopCount > 0
            ? configuration.eventLoopCount : Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))).clamped(to: 1...64)
        let listeners: (fds: [Int32], port: Int)
        do {
            listeners = try ListeningSocket.openGroup(host: configuration.host, port: configuration.port,
                                                      backlog: max(configuration.backlog, 4096), count: loopCount)
        } catch {
            listening.fail(error)
            throw error
        }
        let tick = (min(configuration.headerTimeout, configuration.idleTimeout).nanoseconds / 4).clamped(to: 10_000_000...1_000_000_000)
        var loops: [EventLoop] = []
        do {
            for index in 0..<loopCount { loops.append(try EventLoop(index: index, tickNanoseconds: tick, context: context)) }
        } catch {
            for loop in loops { await loop.shutdown() }
            for fd in listeners.fds { Syscall.close(fd) }
            let failure = HTTPServerError.listenFailed(host: configuration.host, port: configuration.port, error)
            listening.fail(failure)
            throw failure
        }
        for (loop, fd) in zip(loops, listeners.fds) {
            let acceptor = Acceptor(listenFD: fd, loop: loop, context: context)
            loop.execute { loop.watch(acceptor) }
        }
        context.logger.info("HTTP server listening", metadata: [
            "host": "\(configuration.host)", "port": "\(listeners.port)", "max_connections": "\(configuration.maxConnections)",
        ])
        listening.succeed(port: listeners.port)

        await Self.waitForCancellation()

        for loop in loops { await loop.stopAccepting() }
        context.logger.info("HTTP server draining", metadata: ["grace": "\(configuration.shutdownGracePeriod)"])
        for loop in loops { loop.drain() }
        await context.waitForNoConnections(timeout: configuration.shutdownGracePeriod)
        for loop in loops { await loop.shutdown() }
        listening.stop()
        context.logger.info("HTTP server stopped")
    }

    /// The bound port once listening (suspends until then); throws the bind error if `run()` could
    /// not listen, or `HTTPServerError.notListening` after it returned.
    public func waitUntilListening() async throws -> Int {
        try await listening.wait()
    }

    private static func waitForCancellation() async {
        let signal = CancellationSignal()
        await withTaskCancellationHandler {
            await withCheckedContinuation { signal.install($0) }
        } onCancel: {
            signal.fire()
        }
    }

    /// Raises the soft RLIMIT_NOFILE to the hard limit, so maxConnections can be reached, and
    /// returns the soft limit then in force (the descriptors this process may hold at once).
    /// `run()` calls it too; calling it again changes nothing.
    @discardableResult
    public static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return Int.max }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }
}

/// Resumes a waiter once the Task is cancelled, whichever of install and fire comes first.
private final class CancellationSignal: @unchecked Sendable {
    private let lock = Lock()
    // Guarded by `lock`.
    private var fired = false
    private var waiter: CheckedContinuation<Void, Never>?

    func install(_ continuation: CheckedContinuation<Void, Never>) {
        let resumeNow = lock.withLock {
            if fired { return true }
            waiter = continuation
            return false
        }
        if resumeNow { continuation.resume() }
    }

    func fire() {
        lock.withLock { () -> CheckedContinuation<Void, Never>? in
            fired = true
            defer { waiter = nil }
            return waiter
        }?.resume()
    }
}

/// The listening port for `waitUntilListening()`.
private final class ListeningState: @unchecked Sendable {
    private enum State {
        case starting([CheckedContinuation<Int, any Error>])
        case listening(Int)
        case failed(any Error)
    }

    private let lock = Lock()
    // Guarded by `lock`.
    private var state = State.starting([])

    func wait() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let result: Result<Int, any Error>? = lock.withLock {
                switch state {
                case .starting(let waiters):
                    state = .starting(waiters + [continuation])
                    return nil
                case .listening(let port): return .success(port)
                case .failed(let error): return .failure(error)
                }
            }
            if let result { continuation.resume(with: result) }
        }
    }

    func succeed(port: Int) { settle(.listening(port), with: .success(port)) }
    func fail(_ error: any Error) { settle(.failed(error), with: .failure(error)) }
    func stop() { settle(.failed(HTTPServerError.notListening), with: .failure(HTTPServerError.notListening)) }

    private func settle(_ newState: State, with result: Result<Int, any Error>) {
        let waiters = lock.withLock { () -> [CheckedContinuation<Int, any Error>] in
            defer { state = newState }
            if case .starting(let waiters) = state { return waiters }
            return []
        }
        for waiter in waiters { waiter.resume(with: result) }
    }
}

extension Comparable {
    func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
