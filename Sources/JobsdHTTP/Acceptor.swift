import Glibc
import Logging

/// One `SO_REUSEPORT` listening socket, owned by one `EventLoop` (the kernel spreads new
/// connections over the loops' sockets). On the loop's queue it accepts what is pending, in
/// batches, and registers each connection on that same queue. Past `maxConnections` a connection
/// gets a 503 problem and is closed. Out of descriptors, the loop stops watching the socket for
/// 100 ms instead of spinning on a level-triggered socket that cannot be accepted from.
final class Acceptor: @unchecked Sendable {
    // Threading: `isWatched` and `isClosed` are only touched on `loop.queue`.
    let listenFD: Int32
    private unowned let loop: EventLoop
    private let context: HTTPServerContext
    /// The socket is in the loop's epoll set.
    var isWatched = false
    private var isClosed = false

    /// Connections one wake-up accepts at most before the loop serves its other events.
    private static let batch = 64

    init(listenFD: Int32, loop: EventLoop, context: HTTPServerContext) {
        self.listenFD = listenFD
        self.loop = loop
        self.context = context
    }

    /// Closes the listening socket (once); connections accepted before are served on.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        isWatched = false
        Syscall.close(listenFD)
    }

    /// On the loop's queue, when the listening socket is readable.
    func acceptPending() {
        for _ in 0..<Self.batch {
            guard !isClosed else { return }
            let fd: Int32
            do {
                guard let accepted = try Syscall.accept(listenFD) else { return }
                fd = accepted
            } catch where error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOBUFS || error.errno == ENOMEM {
                context.logger.error("accept failed; pausing 100ms", metadata: ["error": "\(error)"])
                return loop.pauseListener(for: 100_000_000)
            } catch {
                context.logger.debug("accept failed", metadata: ["error": "\(error)"])
                continue
            }
            try? Syscall.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            guard context.admitConnection() else {
                reject(fd)
                continue
            }
            loop.register(HTTPConnection(fd: fd, loop: loop, context: context))
        }
        // A full batch: the rest waits for the next event (the socket is level-triggered).
    }

    /// Best effort, without blocking: drop what the client already sent (so closing does not reset
    /// the connection), send a 503 problem, half-close, close.
    private func reject(_ fd: Int32) {
        let started = monotonicNanoseconds()
        var scratch = [UInt8](repeating: 0, count: 4096)
        _ = scratch.withUnsafeMutableBytes { try? Syscall.read(fd, into: $0) }
        let problem = HTTPResponse.problem(status: 503, detail: "The server has too many open connections; retry later.",
                                           headers: [("Retry-After", "1")])
        if case .bytes(let body) = problem.body {
            var head = "HTTP/1.1 503 Service Unavailable\r\nDate: " + String(decoding: loop.dateCache.current(), as: UTF8.self)
            head += "\r\nServer: jobsd\r\nContent-Type: application/problem+json\r\nRetry-After: 1\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
            let bytes = Array(head.utf8) + body
            _ = bytes.withUnsafeBytes { try? Syscall.send(fd, $0) }
        }
        Syscall.shutdownWrite(fd)
        Syscall.close(fd)
        context.observer.requestCompleted("UNKNOWN", nil, 503, Double(monotonicNanoseconds() &- started) / 1e9)
    }
}
