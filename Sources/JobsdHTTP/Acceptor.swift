import Glibc
import Logging

/// The listening socket, watched by every event loop (EPOLLEXCLUSIVE: the kernel wakes one idle
/// loop per new connection). The loop that wakes accepts what is pending and hands each
/// connection round-robin to a loop — itself directly, another through `execute` — so load
/// spreads evenly whichever loop the kernel picked. Past `maxConnections` a connection gets a 503
/// problem and is closed. Out of descriptors, the loop stops watching for 100 ms instead of
/// spinning on a level-triggered socket that cannot be accepted from.
final class Acceptor: Sendable {
    let listenFD: Int32
    private let loops: [EventLoop]
    private let context: HTTPServerContext

    /// Connections one wake-up accepts at most before the loop serves its other events.
    private static let batch = 256

    init(listenFD: Int32, loops: [EventLoop], context: HTTPServerContext) {
        self.listenFD = listenFD
        self.loops = loops
        self.context = context
    }

    func start() {
        for loop in loops { loop.execute { [self] in loop.watch(self) } }
    }

    /// Stops accepting (every loop stops watching) and closes the listening socket; returns once
    /// it is closed. Connections accepted before are served on.
    func stop() async {
        for loop in loops { await loop.run { loop.unwatchListener() } }
        Syscall.close(listenFD)
    }

    /// On `loop`'s thread, when the listening socket is readable.
    func acceptPending(on loop: EventLoop) {
        for _ in 0..<Self.batch {
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
            let target = loops[(loop.index + loop.acceptRotation) % loops.count]
            loop.acceptRotation &+= 1
            let context = self.context
            if target === loop {
                target.register(HTTPConnection(fd: fd, loop: target, context: context))
            } else {
                target.execute { target.register(HTTPConnection(fd: fd, loop: target, context: context)) }
            }
        }
    }

    /// Best effort, without blocking: drop what the client already sent (so closing does not reset
    /// the connection), send a 503 problem, half-close, close.
    private func reject(_ fd: Int32) {
        var scratch = [UInt8](repeating: 0, count: 4096)
        _ = scratch.withUnsafeMutableBytes { try? Syscall.read(fd, into: $0) }
        let problem = HTTPResponse.problem(status: 503, detail: "The server has too many open connections; retry later.",
                                           headers: [("Retry-After", "1")])
        if case .bytes(let body) = problem.body {
            var date = HTTPDateCache()
            var head = "HTTP/1.1 503 Service Unavailable\r\nDate: " + String(decoding: date.current(), as: UTF8.self)
            head += "\r\nServer: jobsd\r\nContent-Type: application/problem+json\r\nRetry-After: 1\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
            let bytes = Array(head.utf8) + body
            _ = bytes.withUnsafeBytes { try? Syscall.send(fd, $0) }
        }
        Syscall.shutdownWrite(fd)
        Syscall.close(fd)
        context.observer.requestCompleted("UNKNOWN", nil, 503, 0)
    }
}
