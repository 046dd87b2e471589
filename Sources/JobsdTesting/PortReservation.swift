import Glibc

/// A loopback TCP port kept from everyone else while nothing listens on it: a socket bound to
/// 127.0.0.1 with `SO_REUSEADDR`, never listening, so connections to the port are refused (a
/// server that is down) and no other bind of port 0 is handed it. A server of the test binds the
/// same port (jobsd's and the test receiver's sockets set `SO_REUSEADDR` too, which Linux allows
/// while this socket does not listen); `release()` then closes the reservation.
public final class PortReservation: @unchecked Sendable {
    public let port: Int
    private var fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestHarnessError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            close(fd)
            throw TestHarnessError("binding a loopback port: errno \(code)")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Closes the reservation (once a server of the test listens on the port).
    public func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}
