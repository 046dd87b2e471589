import Glibc
import Testing
@testable import JobsdHTTP

/// A connection that fails to write must close for good: no later flush may send its unsent
/// output, and its descriptor number must not be free for another connection while the
/// connection can still be used.
@Suite struct HTTPConnectionCloseTests {
    @Test func aFailedWrite_ClosesTheConnection_AndItsOutputNeverReachesTheNextSocketWithItsNumber() async throws {
        let client = try SocketPair()
        let strangers = SocketPairs()
        // What a concurrent accept on another loop does the moment a descriptor is released:
        // take the lowest free number.
        let observer = HTTPServerObserver(connectionClosed: { strangers.open() })
        let context = HTTPServerContext(configuration: .init(), logger: quietLogger, observer: observer,
                                        immediateHandler: nil, handler: { _ in HTTPResponse(status: 200) })
        let loop = try EventLoop(index: 0, tickNanoseconds: 1_000_000_000, context: context)
        Glibc.close(client.remote)  // the client is gone: every send fails
        let closed = Gate()
        await loop.run {
            #expect(context.admitConnection())
            let connection = HTTPConnection(fd: client.local, loop: loop, context: context)
            loop.register(connection)
            // More unsent answers than a connection holds before it stops starting requests.
            connection.output = [UInt8](repeating: UInt8(ascii: "A"), count: 512 * 1024)
            connection.processInput()
            if case .closed = connection.phase { closed.fire() }
            #expect(connection.output.count == 0)
        }
        #expect(closed.isFired)
        #expect(strangers.count == 1)
        #expect(strangers.bytesReceived() == 0)
        await loop.shutdown()
        strangers.closeAll()
    }
}

/// A connected pair of non-blocking Unix stream sockets.
private struct SocketPair {
    let local: Int32
    let remote: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SyscallError(call: "socketpair", errno: errno)
        }
        local = fds[0]
        remote = fds[1]
    }
}

/// Socket pairs opened from a callback, and what arrived on them.
private final class SocketPairs: @unchecked Sendable {
    private let lock = Lock()
    // Guarded by `lock`.
    private var pairs: [SocketPair] = []

    func open() {
        if let pair = try? SocketPair() { lock.withLock { pairs.append(pair) } }
    }

    var count: Int { lock.withLock { pairs.count } }

    /// Bytes readable at the far ends (what was sent on the near ends).
    func bytesReceived() -> Int {
        lock.withLock {
            var total = 0
            var scratch = [UInt8](repeating: 0, count: 65536)
            for pair in pairs {
                while true {
                    let count = scratch.withUnsafeMutableBytes { Glibc.read(pair.remote, $0.baseAddress, $0.count) }
                    if count <= 0 { break }
                    total += count
                }
            }
            return total
        }
    }

    func closeAll() {
        lock.withLock {
            for pair in pairs {
                Glibc.close(pair.local)
                Glibc.close(pair.remote)
            }
            pairs = []
        }
    }
}
