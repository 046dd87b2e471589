import Glibc

/// A failed system call: its name and errno.
public struct SyscallError: Error, Sendable, Equatable, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public var description: String { "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// The one layer of raw socket calls: each retries EINTR, reads errno immediately and throws a
/// `SyscallError` naming the call. Calls that can would-block return nil for EAGAIN.
enum Syscall {
    @inline(__always)
    static func retrying<T: BinaryInteger>(_ call: String, _ body: () -> T) throws(SyscallError) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = Glibc.errno
            if code != EINTR { throw SyscallError(call: call, errno: code) }
        }
    }

    @inline(__always)
    private static func retryingNonBlocking<T: BinaryInteger>(_ call: String, _ body: () -> T) throws(SyscallError) -> T? {
        do {
            return try retrying(call, body)
        } catch where error.errno == EAGAIN || error.errno == EWOULDBLOCK {
            return nil
        }
    }

    static func socket(domain: Int32, type: Int32) throws(SyscallError) -> Int32 {
        try retrying("socket") { Glibc.socket(domain, type | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0) }
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(SyscallError) {
        var value = value
        _ = try retrying("setsockopt") { setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) }
    }

    static func bind(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) throws(SyscallError) {
        _ = try retrying("bind") { Glibc.bind(fd, address, length) }
    }

    static func listen(_ fd: Int32, backlog: Int32) throws(SyscallError) {
        _ = try retrying("listen") { Glibc.listen(fd, backlog) }
    }

    /// The bound port of a socket (after binding port 0).
    static func localPort(_ fd: Int32) throws(SyscallError) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { pointer throws(SyscallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SyscallError) in
                try retrying("getsockname") { getsockname(fd, address, &length) }
            }
        }
        // sin_port and sin6_port both sit right after the 2-byte family.
        return withUnsafeBytes(of: storage) { Int(UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self))) }
    }

    /// A new non-blocking, close-on-exec connection, or nil when none is pending. Both flags are
    /// set atomically by accept4: a job process spawned concurrently must never inherit the socket
    /// (it would keep the connection open after the server closed it).
    static func accept(_ fd: Int32) throws(SyscallError) -> Int32? {
        try retryingNonBlocking("accept4") {
            accept4(fd, nil, nil, Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
        }
    }

    /// glibc's accept4, which the Glibc module does not export; resolved once.
    private static let accept4 = unsafeBitCast(
        dlsym(nil, "accept4")!,
        to: (@convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32) -> Int32).self)

    /// Bytes read (0 at end of stream), or nil when none are available.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SyscallError) -> Int? {
        try retryingNonBlocking("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Bytes sent, or nil when the socket buffer is full. Never raises SIGPIPE (MSG_NOSIGNAL).
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(SyscallError) -> Int? {
        try retryingNonBlocking("send") { Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }

    static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Ends both directions of a socket (the peer sees end of stream) without releasing its number.
    static func shutdownBoth(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Closes `fd`. Not retried on EINTR: on Linux the descriptor is released either way.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}
