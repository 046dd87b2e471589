import Glibc

/// Opens non-blocking listening TCP sockets (SO_REUSEADDR) on an IPv4 or IPv6 literal, or
/// "localhost" (127.0.0.1). "::" accepts IPv4 too (IPV6_V6ONLY off).
enum ListeningSocket {
    /// One socket.
    static func open(host: String, port: Int, backlog: Int32) throws(HTTPServerError) -> (fd: Int32, port: Int) {
        let group = try openGroup(host: host, port: port, backlog: backlog, count: 1)
        return (group.fds[0], group.port)
    }

    /// `count` sockets sharing one port with `SO_REUSEPORT` (the kernel spreads new connections
    /// over them), or one plain socket when `count` is 1. The first binds `port` (0: an ephemeral
    /// one), the others join it. Before a group binds a fixed port, a plain probe socket binds it
    /// alone: a port already in use (say by another jobsd of the same user, which SO_REUSEPORT
    /// would otherwise let in silently) fails with EADDRINUSE as it would without SO_REUSEPORT.
    static func openGroup(host: String, port: Int, backlog: Int32, count: Int) throws(HTTPServerError) -> (fds: [Int32], port: Int) {
        guard (0...65535).contains(port) else { throw .invalidAddress(host: host, port: port) }
        guard let address = SocketAddress(host: host, port: port) else { throw .invalidAddress(host: host, port: port) }
        var fds: [Int32] = []
        do {
            if count > 1 && port != 0 {
                Syscall.close(try bound(address, reusePort: false))
            }
            var bindAddress = address
            for _ in 0..<count {
                let fd = try bound(bindAddress, reusePort: count > 1)
                fds.append(fd)
                try Syscall.listen(fd, backlog: backlog)
                if bindAddress.port == 0 { bindAddress.port = try Syscall.localPort(fd) }
            }
            return (fds, bindAddress.port)
        } catch {
            for fd in fds { Syscall.close(fd) }
            throw .listenFailed(host: host, port: port, error)
        }
    }

    private static func bound(_ address: SocketAddress, reusePort: Bool) throws(SyscallError) -> Int32 {
        let fd = try Syscall.socket(domain: address.isV6 ? AF_INET6 : AF_INET, type: Int32(SOCK_STREAM.rawValue))
        do {
            try Syscall.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort { try Syscall.setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            if address.isV6 { try Syscall.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
            try address.bind(fd)
            return fd
        } catch {
            Syscall.close(fd)
            throw error
        }
    }
}

/// An IPv4 or IPv6 socket address parsed from a literal ("localhost" is 127.0.0.1).
struct SocketAddress {
    private var v4 = sockaddr_in()
    private var v6 = sockaddr_in6()
    let isV6: Bool

    init?(host: String, port: Int) {
        let literal = host == "localhost" ? "127.0.0.1" : host
        if inet_pton(AF_INET, literal, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            isV6 = false
        } else if inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            isV6 = true
        } else {
            return nil
        }
        self.port = port
    }

    var port: Int {
        get { Int(UInt16(bigEndian: isV6 ? v6.sin6_port : v4.sin_port)) }
        set {
            v4.sin_port = UInt16(newValue).bigEndian
            v6.sin6_port = UInt16(newValue).bigEndian
        }
    }

    func bind(_ fd: Int32) throws(SyscallError) {
        if isV6 {
            var address = v6
            try withUnsafePointer(to: &address) { pointer throws(SyscallError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw throws(SyscallError) in
                    try Syscall.bind(fd, raw, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var address = v4
            try withUnsafePointer(to: &address) { pointer throws(SyscallError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw throws(SyscallError) in
                    try Syscall.bind(fd, raw, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }
}
