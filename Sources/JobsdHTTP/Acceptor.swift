import Dispatch
import Glibc
import Logging

/// Accepts connections on the listening socket (driven by a DispatchSourceRead) and hands each to
/// an event loop in turn; past `maxConnections` a connection gets a 503 problem and is closed.
final class Acceptor: @unchecked Sendable {
    // `nextLoop` and `paused` are only touched on `queue`.
    private let listenFD: Int32
    private let loops: [EventLoop]
    private let context: HTTPServerContext
    private let queue = DispatchQueue(label: "jobsd.http.accept")
    private let source: any DispatchSourceRead
    private var nextLoop = 0
    private var paused = false

    init(listenFD: Int32, loops: [EventLoop], context: HTTPServerContext) {
        self.listenFD = listenFD
        self.loops = loops
        self.context = context
        source = DispatchSource.makeReadSource(fileDescriptor: listenFD, queue: queue)
    }

    func start() {
        source.setEventHandler { [unowned self] in acceptPending() }
        source.activate()
    }

    /// Stops accepting and closes the listening socket; returns once it is closed.
    func stop() async {
        await withCheckedContinuation { (closed: CheckedContinuation<Void, Never>) in
            source.setCancelHandler { [listenFD] in
                Syscall.close(listenFD)
                closed.resume()
            }
            queue.async { [self] in
                if paused { source.resume() }
                source.cancel()
            }
        }
    }

    private func acceptPending() {
        while true {
            let fd: Int32
            do {
                guard let accepted = try Syscall.accept(listenFD) else { return }
                fd = accepted
            } catch where error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOBUFS || error.errno == ENOMEM {
                // Out of descriptors: pause briefly instead of spinning on a level-triggered source.
                context.logger.error("accept failed; pausing 100ms", metadata: ["error": "\(error)"])
                paused = true
                source.suspend()
                queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in
                    guard paused, !source.isCancelled else { return }
                    paused = false
                    source.resume()
                }
                return
            } catch {
                context.logger.debug("accept failed", metadata: ["error": "\(error)"])
                continue
            }
            try? Syscall.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            guard context.admitConnection() else {
                reject(fd)
                continue
            }
            let loop = loops[nextLoop]
            nextLoop = (nextLoop + 1) % loops.count
            let context = self.context
            loop.queue.async {
                HTTPConnection(fd: fd, loop: loop, context: context).start()
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
