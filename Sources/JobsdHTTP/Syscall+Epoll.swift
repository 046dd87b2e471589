import Glibc

/// epoll, which the Glibc module does not export: resolved once with dlsym, like
/// `accept4`. `struct epoll_event` is packed on x86_64 (12 bytes: events, then the 64-bit data
/// word at offset 4) and naturally aligned elsewhere (16 bytes, data at offset 8), so events are
/// read and written through `EpollEvents`' raw buffer rather than a Swift struct.
extension Syscall {
    static let epollIn: UInt32 = 0x001
    static let epollOut: UInt32 = 0x004
    static let epollErr: UInt32 = 0x008
    static let epollHup: UInt32 = 0x010
    static let epollRDHup: UInt32 = 0x2000
    static let epollEdgeTriggered: UInt32 = 1 << 31

    private static let ctlAdd: Int32 = 1
    private static let ctlDel: Int32 = 2

    #if arch(x86_64)
    static let epollEventStride = 12
    static let epollDataOffset = 4
    #else
    static let epollEventStride = 16
    static let epollDataOffset = 8
    #endif

    private static func symbol<T>(_ name: String, as type: T.Type) -> T {
        unsafeBitCast(dlsym(nil, name)!, to: type)
    }

    private static let epollCreate1 = symbol("epoll_create1", as: (@convention(c) (Int32) -> Int32).self)
    private static let epollCtl = symbol("epoll_ctl", as: (@convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32).self)
    private static let epollWait = symbol("epoll_wait", as: (@convention(c) (Int32, UnsafeMutableRawPointer?, Int32, Int32) -> Int32).self)

    /// A close-on-exec epoll instance.
    static func epollCreate() throws(SyscallError) -> Int32 {
        try retrying("epoll_create1") { epollCreate1(O_CLOEXEC) }
    }

    /// Watches `fd` for `events`; `data` comes back with each of its events.
    static func epollAdd(_ epollFD: Int32, _ fd: Int32, events: UInt32, data: UInt64) throws(SyscallError) {
        var event = (UInt64(0), UInt64(0))  // 16 bytes, enough for either layout
        withUnsafeMutableBytes(of: &event) { raw in
            raw.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: data, toByteOffset: epollDataOffset, as: UInt64.self)
        }
        _ = try withUnsafeMutableBytes(of: &event) { raw throws(SyscallError) in
            try retrying("epoll_ctl") { epollCtl(epollFD, ctlAdd, fd, raw.baseAddress) }
        }
    }

    /// Stops watching `fd` (ignores errors: the descriptor may already be gone from the set).
    static func epollRemove(_ epollFD: Int32, _ fd: Int32) {
        var unused = (UInt64(0), UInt64(0))  // kernels before 2.6.9 wanted a non-null pointer
        _ = withUnsafeMutableBytes(of: &unused) { epollCtl(epollFD, ctlDel, fd, $0.baseAddress) }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) for events; returns how many were stored
    /// in `events` (0 on timeout or when a signal interrupted the wait).
    static func epollWait(_ epollFD: Int32, into events: EpollEvents, timeoutMilliseconds: Int32) throws(SyscallError) -> Int {
        let count = epollWait(epollFD, events.buffer.baseAddress, Int32(events.capacity), timeoutMilliseconds)
        if count >= 0 { return Int(count) }
        let code = Glibc.errno
        if code == EINTR { return 0 }
        throw SyscallError(call: "epoll_wait", errno: code)
    }
}

/// A buffer for the events one `epoll_wait` returns.
struct EpollEvents {
    let capacity: Int
    let buffer: UnsafeMutableRawBufferPointer

    init(capacity: Int) {
        self.capacity = capacity
        buffer = .allocate(byteCount: capacity * Syscall.epollEventStride, alignment: 8)
    }

    func deallocate() { buffer.deallocate() }

    func events(at index: Int) -> UInt32 {
        buffer.loadUnaligned(fromByteOffset: index * Syscall.epollEventStride, as: UInt32.self)
    }

    func data(at index: Int) -> UInt64 {
        buffer.loadUnaligned(fromByteOffset: index * Syscall.epollEventStride + Syscall.epollDataOffset, as: UInt64.self)
    }
}
