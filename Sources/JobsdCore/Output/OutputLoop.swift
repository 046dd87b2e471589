import CProcessSupport
import Foundation
import Glibc
import JobsdAPI
import JobsdMetrics

/// The one thread that moves every running job's stdout and stderr from their pipes into the
/// jobs' logs: an epoll loop (level-triggered, the blocking-I/O boundary) over the read ends of
/// all `OutputPump`s, plus an eventfd that wakes it for close requests. It also reads the status
/// pipes of per-job subreapers (`SubreaperChannel`: the main process's exit, without a thread).
///
/// Our own loop rather than Dispatch read sources: under heavy job churn (hundreds of sources
/// registered and torn down per second) libdispatch's epoll manager crashed on a freed
/// registration. One shared thread rather than a thread per job: creating and switching to a
/// thread per job cost more than the job's own spawn.
///
/// The loop thread alone reads and closes the registered fds, so an fd number is never reused
/// under a pending read. A read end is closed at end-of-file (or a read error), or when its pump
/// asks (`close(_:)`, after the process tree is gone) once what is buffered has been read.
///
/// Thread-safe: `pipes`, `closing` and `nextToken` are guarded by `lock`.
final class OutputLoop: @unchecked Sendable {
    static let shared = OutputLoop()

    private struct Registration {
        let fd: Int32
        let reader: Reader
    }

    private enum Reader {
        case output(LogStream, OutputPump)
        case messages(SubreaperChannel)
    }

    private let epoll: Int32
    /// Written to wake the loop for `closing`; token 0.
    private let wake: Int32
    private let lock = PThreadLock()
    // MARK: guarded by `lock`
    private var pipes: [UInt64: Registration] = [:]
    private var closing: [OutputPump] = []
    private var nextToken: UInt64 = 1

    /// Reads at most this many buffers from one pipe per wake-up, so a chatty job cannot starve
    /// the others (level-triggered: the rest is reported again).
    private static let readsPerTurn = 8

    private init() {
        epoll = jobsd_epoll_create()
        wake = jobsd_eventfd()
        guard epoll >= 0, wake >= 0, jobsd_epoll_add(epoll, wake, 0) == 0 else {
            fatalError("cannot create the output loop (epoll/eventfd): \(String(cString: strerror(errno)))")
        }
        let thread = Thread { [self] in run() }
        thread.name = "jobsd.output"
        thread.stackSize = 256 * 1024
        thread.start()
    }

    /// Takes ownership of `fds` (read ends of pipes, no file status flags set; made non-blocking)
    /// and reads them into `pump`'s log.
    /// Returns their tokens. An fd epoll refuses is closed at once (its pump is told).
    func register(_ fds: [(Int32, LogStream)], pump: OutputPump) -> [UInt64] {
        var refused = 0
        let tokens: [UInt64] = lock.withLock {
            fds.compactMap { fd, stream in
                _ = fcntl(fd, F_SETFL, O_NONBLOCK)
                let token = nextToken
                nextToken += 1
                pipes[token] = Registration(fd: fd, reader: .output(stream, pump))
                guard jobsd_epoll_add(epoll, fd, token) == 0 else {
                    pipes[token] = nil
                    Glibc.close(fd)
                    refused += 1
                    return nil
                }
                return token
            }
        }
        for _ in 0..<refused { pump.pipeClosed() }
        return tokens
    }

    /// Takes ownership of `fd` (a subreaper's status pipe; made non-blocking) and hands what it
    /// reads to `channel`, until end-of-file (the subreaper has exited). When epoll refuses it,
    /// the fd is closed and the channel told at once.
    func register(_ fd: Int32, channel: SubreaperChannel) {
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        let refused: Bool = lock.withLock {
            let token = nextToken
            nextToken += 1
            pipes[token] = Registration(fd: fd, reader: .messages(channel))
            guard jobsd_epoll_add(epoll, fd, token) == 0 else {
                pipes[token] = nil
                return true
            }
            return false
        }
        if refused {
            Glibc.close(fd)
            channel.closed()
        }
    }

    /// Asks the loop to read what is left in `pump`'s pipes without blocking and close them.
    func close(_ pump: OutputPump) {
        lock.withLock { closing.append(pump) }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    // MARK: - The loop thread

    private func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
        // A buffer of our own, not an Array: with `var tokens: [UInt64]`, passing `&tokens` to
        // epoll and then iterating `tokens[0..<n]` in this never-returning loop, the release
        // build (Swift 6.3.1 -O) leaked one copy of the array per wake-up — 544 bytes, ≈ 0.66 KB
        // per job (issue 21).
        let tokens = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 64)
        while true {
            let n = jobsd_epoll_wait(epoll, tokens.baseAddress, Int32(tokens.count), -1)
            if n < 0 {
                // EINTR; nothing else is expected from a valid epoll fd.
                continue
            }
            for i in 0..<Int(n) {
                let token = tokens[i]
                if token == 0 {
                    closeRequested(buffer)
                    continue
                }
                guard let registration = lock.withLock({ pipes[token] }) else { continue }  // closed earlier in this batch
                if drain(registration, buffer, limit: Self.readsPerTurn) { retire(token, registration) }
            }
        }
    }

    /// Closes the pipes of every pump that asked, after reading what they hold now.
    private func closeRequested(_ buffer: UnsafeMutableRawBufferPointer) {
        var count: UInt64 = 0
        _ = read(wake, &count, 8)
        let pumps: [OutputPump] = lock.withLock {
            defer { closing.removeAll() }
            return closing
        }
        for pump in pumps {
            for token in pump.tokens {
                guard let registration = lock.withLock({ pipes[token] }) else { continue }
                _ = drain(registration, buffer, limit: 64)
                retire(token, registration)
            }
        }
    }

    /// Reads until the pipe would block (false) or reached end-of-file / an error (true), at
    /// most `limit` buffers (false).
    private func drain(_ registration: Registration, _ buffer: UnsafeMutableRawBufferPointer, limit: Int) -> Bool {
        var reads = 0
        while reads < limit {
            let n = read(registration.fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                switch registration.reader {
                case let .output(stream, pump):
                    pump.log?.append(bytes, stream: stream)
                    pump.onOutput()
                case let .messages(channel):
                    channel.received(bytes)
                }
                reads += 1
                continue
            }
            if n < 0, errno == EINTR { continue }
            return !(n < 0 && errno == EAGAIN)
        }
        return false
    }

    private func retire(_ token: UInt64, _ registration: Registration) {
        _ = jobsd_epoll_del(epoll, registration.fd)
        Glibc.close(registration.fd)
        lock.withLock { pipes[token] = nil }
        switch registration.reader {
        case let .output(_, pump): pump.pipeClosed()
        case let .messages(channel): channel.closed()
        }
    }
}
