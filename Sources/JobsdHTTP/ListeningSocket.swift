import Glibc

/// Opens a non-blocking listening TCP socket (SO_REUSEADDR) on an IPv4 or IPv6 literal,
/// or "localhost" (127.0.0.1). "::" accepts IPv4 too (IPV6_V6ONLY off).
enum ListeningSocket {
    static func open(host: String, port: Int, backlog: Int32) throws(HTTPServerError) -> (fd: Int32, port: Int) {
        guard (0...65535).contains(port) else { throw .invalidAddress(host: host, port: port) }
        let literal = host == "localhost" ? "127.0.0.1" : host
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        let isV6: Bool
        if inet_pton(AF_INET, literal, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = UInt16(port).bigEndian
            isV6 = false
        } else if inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = UInt16(port).bigEndian
            isV6 = true
        } else {
            throw .invalidAddress(host: host, port: port)
        }
        var fd: Int32 = -1
        do {
            fd = try Syscall.socket(domain: isV6 ? AF_INET6 : AF_INET, type: Int32(SOCK_STREAM.rawValue))
            try Syscall.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if isV6 { try Syscall.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
            if isV6 {
                try withUnsafePointer(to: &v6) { pointer throws(SyscallError) in
                    try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SyscallError) in
                        try Syscall.bind(fd, address, socklen_t(MemoryLayout<sockaddr_in6>.size))
                    }
                }
            } else {
                try withUnsafePointer(to: &v4) { pointer throws(SyscallError) in
                    try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SyscallError) in
                        try Syscall.bind(fd, address, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            try Syscall.listen(fd, backlog: backlog)
            return (fd, try Syscall.localPort(fd))
        } catch {
            if fd >= 0 { Syscall.close(fd) }
            throw .listenFailed(host: host, port: port, error)
        }
    }
}
