import Dispatch
import Glibc

/// A serial `DispatchQueue` that owns an epoll set, a listening socket and a share of the
/// connections: their readiness events, their state, their timeouts and the writing of their
/// responses all happen on that queue, so a request answered by an immediate handler costs no
/// hop at all. Dispatch owns every thread; JobsdHTTP starts none and runs no blocking loop.
///
/// Why one read source per queue, watching an epoll set, and not one `DispatchSourceRead` per
/// connection: on Linux, libdispatch has an open use-after-free when a per-descriptor source sees
/// EPOLLHUP around its cancellation (swift-corelibs-libdispatch #949 and #833,
/// swift-corelibs-foundation #3276; swift-subprocess #47 left DispatchIO for the same reason), so
/// a source per connection crashes under client resets; it also costs about twice the CPU (a
/// source object, an `epoll_ctl` to re-arm and a queue hop per event). Here libdispatch watches
/// exactly one descriptor per queue — the epoll set, which never reports EPOLLHUP — through one
/// source that is cancelled only when the server stops, after every connection is gone. The
/// connections are plain `epoll_ctl` registrations in that set, made and removed on the queue.
///
/// Decisions:
/// - Connections are registered once, edge-triggered, for input, output and peer half-close; no
///   `epoll_ctl` per request. The source's handler takes a bounded batch with `epoll_wait(…, 0)`
///   (and comes back for the rest); a connection reads until EAGAIN within a budget per turn and
///   writes directly; it only waits for EPOLLOUT after the socket refused bytes.
/// - Each registration has its own 64-bit token (never reused on this queue), so an event still
///   in flight for a closed connection cannot reach a new connection that got the same descriptor.
/// - Other threads (handler Tasks) hand work to the queue with `execute` (`queue.async`).
/// - Timeouts (header, idle, unread response): one `DispatchSourceTimer` per queue ticks every
///   `tickNanoseconds` and checks this queue's connections.
/// - Accepting: each queue has its own `SO_REUSEPORT` listener (the kernel spreads new
///   connections over them), level-triggered in the queue's epoll set; see `Acceptor`.
/// - Stopping (`shutdown()`, once, by `HTTPServer.run`): closes every connection, cancels the
///   timer and the read source; the source's cancel handler closes the epoll set. Closures
///   `execute`d later still run on the queue and only find closed connections.
final class EventLoop: @unchecked Sendable {
    // Threading: every `var`, `readBuffer`'s and `events`' contents and the state of the
    // registered connections are only touched on `queue`.
    let index: Int
    let context: HTTPServerContext
    let queue: DispatchQueue
    private let epollFD: Int32
    private let tickNanoseconds: UInt64
    /// Scratch buffer every read on this queue lands in before it is fed to a decoder.
    let readBuffer: UnsafeMutableRawBufferPointer
    private let events = EpollEvents(capacity: 256)
    var dateCache = HTTPDateCache()
    private var connections: [UInt64: HTTPConnection] = [:]
    private var nextToken = Token.firstConnection
    private var acceptor: Acceptor?
    private var readiness: (any DispatchSourceRead)?
    private var ticker: (any DispatchSourceTimer)?
    private var stopped = false

    private enum Token {
        static let listener: UInt64 = 1
        static let firstConnection: UInt64 = 2
    }

    /// Creates the epoll set and starts the read source and the timeout timer on a new queue. The
    /// source and the timer hold the loop until `shutdown()` cancels them.
    init(index: Int, tickNanoseconds: UInt64, context: HTTPServerContext) throws(SyscallError) {
        self.index = index
        self.context = context
        self.tickNanoseconds = tickNanoseconds
        queue = DispatchQueue(label: "jobsd-http-\(index)", qos: .userInitiated)
        epollFD = try Syscall.epollCreate()
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
        let source = DispatchSource.makeReadSource(fileDescriptor: epollFD, queue: queue)
        let epollFD = epollFD
        source.setEventHandler { [self] in handleEvents() }
        source.setCancelHandler { Syscall.close(epollFD) }
        readiness = source
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let tick = DispatchTimeInterval.nanoseconds(Int(tickNanoseconds))
        timer.schedule(deadline: .now() + tick, repeating: tick, leeway: .nanoseconds(Int(tickNanoseconds / 4)))
        timer.setEventHandler { [self] in checkTimeouts() }
        ticker = timer
        source.resume()
        timer.resume()
    }

    deinit {
        readBuffer.deallocate()
        events.deallocate()
    }

    // MARK: - Handing work to the queue

    /// Runs `task` on the queue, after what is already queued.
    func execute(_ task: @escaping @Sendable () -> Void) {
        queue.async(execute: task)
    }

    /// `execute`, returning once `body` has run.
    func run(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                body()
                done.resume()
            }
        }
    }

    // MARK: - Events (on the queue)

    /// The read source's handler: one bounded batch of ready descriptors.
    private func handleEvents() {
        guard !stopped else { return }
        let count: Int
        do {
            count = try Syscall.epollWait(epollFD, into: events, timeoutMilliseconds: 0)
        } catch {
            preconditionFailure("HTTP event loop: \(error)")  // only EBADF/EFAULT/EINVAL: a bug
        }
        for i in 0..<count {
            switch events.data(at: i) {
            case Token.listener: acceptor?.acceptPending()
            case let token: connections[token]?.handle(events: events.events(at: i))
            }
        }
        // A full batch: more may be ready; serve them after what this batch queued.
        if count == events.capacity { queue.async { [self] in handleEvents() } }
    }

    private func checkTimeouts() {
        let now = monotonicNanoseconds()
        for connection in Array(connections.values) { connection.checkTimeout(now: now) }
    }

    // MARK: - Connections (on the queue)

    /// Watches `connection`'s descriptor; closes the connection when epoll refuses it.
    func register(_ connection: HTTPConnection) {
        if stopped { return connection.close() }
        let token = nextToken
        nextToken += 1
        do {
            try Syscall.epollAdd(epollFD, connection.fd,
                                 events: Syscall.epollIn | Syscall.epollOut | Syscall.epollRDHup | Syscall.epollEdgeTriggered,
                                 data: token)
        } catch {
            context.logger.error("cannot watch a connection", metadata: ["error": "\(error)"])
            return connection.close()
        }
        connection.token = token
        connections[token] = connection
    }

    /// Stops watching a connection that is closing (before its socket is shut down).
    func deregister(_ connection: HTTPConnection) {
        guard let token = connection.token, connections.removeValue(forKey: token) != nil, !stopped else { return }
        Syscall.epollRemove(epollFD, connection.fd)
    }

    /// Closes idle connections and makes the others close after their current response.
    func drain() {
        execute { [self] in
            for connection in Array(connections.values) { connection.beginDrain() }
        }
    }

    /// Closes every connection at once (cancelling their handler Tasks), stops the timer and the
    /// read source (whose cancel handler closes the epoll set); returns once done. Call it once.
    func shutdown() async {
        await run { [self] in
            for connection in Array(connections.values) { connection.close() }
            acceptor?.close()
            acceptor = nil
            stopped = true
            ticker?.cancel()
            ticker = nil
            readiness?.cancel()
            readiness = nil
        }
    }

    // MARK: - The listening socket (on the queue)

    /// Starts accepting on `acceptor`'s listening socket (this queue's own).
    func watch(_ acceptor: Acceptor) {
        guard !stopped else { return acceptor.close() }
        self.acceptor = acceptor
        watchListener()
    }

    /// Stops accepting for good and closes the listening socket.
    func stopAccepting() async {
        await run { [self] in
            guard let acceptor else { return }
            if acceptor.isWatched { Syscall.epollRemove(epollFD, acceptor.listenFD) }
            acceptor.close()
            self.acceptor = nil
        }
    }

    /// Stops accepting for `nanoseconds` (out of descriptors: a level-triggered listener would spin).
    func pauseListener(for nanoseconds: UInt64) {
        guard let acceptor, acceptor.isWatched else { return }
        Syscall.epollRemove(epollFD, acceptor.listenFD)
        acceptor.isWatched = false
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in watchListener() }
    }

    private func watchListener() {
        guard let acceptor, !acceptor.isWatched, !stopped else { return }
        do {
            try Syscall.epollAdd(epollFD, acceptor.listenFD, events: Syscall.epollIn, data: Token.listener)
            acceptor.isWatched = true
        } catch {
            context.logger.error("cannot watch the listening socket; retrying", metadata: ["error": "\(error)"])
            queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in watchListener() }
        }
    }
}
