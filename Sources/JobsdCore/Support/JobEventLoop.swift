import CProcessSupport
import Dispatch
import Glibc
import JobsdAPI
import JobsdMetrics

/// The engine's event loop: a serial `DispatchQueue` that owns one epoll set holding every
/// running job's descriptors — the read ends of its stdout and stderr (`OutputPump`), the status
/// pipes of per-job subreapers (`SubreaperChannel`) and a pidfd per spawned child (`Reaper`),
/// whose readiness makes the reaper collect exited children on this queue. libdispatch watches
/// only the epoll set, through one `DispatchSourceRead` that is never cancelled, the way
/// JobsdHTTP's `EventLoop` does; the loop starts no thread of its own and runs no blocking call.
///
/// Why one epoll set and not a Dispatch read source per pipe: under heavy job churn (hundreds of
/// sources registered and torn down per second) libdispatch's epoll manager crashed on a freed
/// registration (see JobsdHTTP's `EventLoop`).
///
/// Registrations are added from any thread (`epoll_ctl` is thread-safe; the table is guarded by
/// `lock`). Only the queue reads and closes a registered fd, so an fd number is never reused
/// under a pending read. A pipe is closed at end-of-file (or a read error), or when its pump asks
/// (`close(_:)`, after the process tree is gone) once what it holds has been read; a pidfd once
/// its process has exited. Level-triggered: a pipe still holding data after `readsPerTurn`
/// buffers (a chatty job must not starve the others) keeps the set readable, so the source fires
/// again.
///
/// Every `orphanSweepSeconds` (a `Deadlines` action) the reaper also reaps whatever exited without
/// a pidfd of ours: orphans reparented to jobsd, the subreaper and, in a container, PID 1.
final class JobEventLoop: @unchecked Sendable {
    static let shared = JobEventLoop()

    private struct Registration {
        let fd: Int32
        let reader: Reader
    }

    private enum Reader {
        case output(LogStream, OutputPump)
        case messages(SubreaperChannel)
        case exit
    }

    private let queue = DispatchQueue(label: "jobsd.job-events")
    private let epoll: Int32
    private let readiness: any DispatchSourceRead
    // MARK: only touched on `queue`
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
    /// A buffer of our own, not an Array: with `var tokens: [UInt64]` passed as `&tokens` to
    /// epoll, the release build (Swift 6.3.1 -O) once leaked a copy of the array per wake-up (issue 21).
    private let tokens = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 64)
    private let lock = PThreadLock()
    // MARK: guarded by `lock`
    private var registrations: [UInt64: Registration] = [:]
    private var nextToken: UInt64 = 1

    /// Reads at most this many buffers from one pipe per turn.
    private static let readsPerTurn = 8
    /// How often exited children nobody watches by pidfd are reaped.
    static let orphanSweepSeconds = 1.0

    private init() {
        epoll = jobsd_epoll_create()
        guard epoll >= 0 else { fatalError("cannot create the job event loop (epoll): \(String(cString: strerror(errno)))") }
        readiness = DispatchSource.makeReadSource(fileDescriptor: epoll, queue: queue)
        readiness.setEventHandler { [self] in handleEvents() }
        readiness.resume()
        Self.sweepOrphans()
    }

    /// Reaps what exited, now and every `orphanSweepSeconds` from now on.
    private static func sweepOrphans() {
        Deadlines.shared.schedule(after: orphanSweepSeconds) {
            Reaper.shared.reapExited()
            sweepOrphans()
        }
    }

    /// Takes ownership of `fds` (read ends of pipes, no file status flags set; made non-blocking)
    /// and reads them into `pump`'s log. Returns their tokens. An fd epoll refuses is closed at
    /// once (its pump is told).
    func register(_ fds: [(Int32, LogStream)], pump: OutputPump) -> [UInt64] {
        var refused = 0
        let tokens: [UInt64] = fds.compactMap { fd, stream in
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            guard let token = add(fd, .output(stream, pump)) else {
                Glibc.close(fd)
                refused += 1
                return nil
            }
            return token
        }
        for _ in 0..<refused { pump.pipeClosed() }
        return tokens
    }

    /// Takes ownership of `fd` (a subreaper's status pipe; made non-blocking) and hands what it
    /// reads to `channel`, until end-of-file (the subreaper has exited). When epoll refuses it,
    /// the fd is closed and the channel told at once.
    func register(_ fd: Int32, channel: SubreaperChannel) {
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        if add(fd, .messages(channel)) == nil {
            Glibc.close(fd)
            channel.closed()
        }
    }

    /// Takes ownership of `pidfd` (a child of jobsd): once the child has exited, closes it and
    /// has the reaper reap. False (and the fd closed) when epoll refuses it: the child is then
    /// reaped by the next sweep, at most `orphanSweepSeconds` late.
    @discardableResult
    func watchExit(_ pidfd: Int32) -> Bool {
        guard add(pidfd, .exit) != nil else {
            Glibc.close(pidfd)
            return false
        }
        return true
    }

    /// Asks the loop to read what is left in `pump`'s pipes without blocking and close them.
    func close(_ pump: OutputPump) {
        queue.async { [self] in
            for token in pump.tokens {
                guard let registration = lock.withLock({ registrations[token] }) else { continue }
                _ = drain(registration, limit: 64)
                retire(token, registration)
            }
        }
    }

    private func add(_ fd: Int32, _ reader: Reader) -> UInt64? {
        lock.withLock {
            let token = nextToken
            nextToken += 1
            registrations[token] = Registration(fd: fd, reader: reader)
            guard jobsd_epoll_add(epoll, fd, token) == 0 else {
                registrations[token] = nil
                return nil
            }
            return token
        }
    }

    // MARK: - On the queue

    /// The read source's handler: one batch of ready descriptors (what is left of a full batch
    /// keeps the set readable, so the source fires again).
    private func handleEvents() {
        let n = jobsd_epoll_wait(epoll, tokens.baseAddress, Int32(tokens.count), 0)
        guard n > 0 else { return }  // EINTR, or nothing left
        var exited = false
        for i in 0..<Int(n) {
            let token = tokens[i]
            guard let registration = lock.withLock({ registrations[token] }) else { continue }  // retired in this batch
            if case .exit = registration.reader {
                retire(token, registration)
                exited = true
            } else if drain(registration, limit: Self.readsPerTurn) {
                retire(token, registration)
            }
        }
        if exited { Reaper.shared.reapExited() }
    }

    /// Reads until the pipe would block (false) or reached end-of-file / an error (true), at
    /// most `limit` buffers (false).
    private func drain(_ registration: Registration, limit: Int) -> Bool {
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
                case .exit:
                    return true  // never read: `handleEvents` retires a pidfd at once
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
        lock.withLock { registrations[token] = nil }
        switch registration.reader {
        case let .output(_, pump): pump.pipeClosed()
        case let .messages(channel): channel.closed()
        case .exit: break
        }
    }
}
