import Glibc

/// One thread with its own epoll set that owns a share of the connections: their readiness
/// events, their state, their timeouts and the writing of their responses all happen on it, so a
/// request answered by an immediate handler costs no thread hop at all.
///
/// Decisions:
/// - Connections are registered once, edge-triggered, for input, output and peer half-close; no
///   `epoll_ctl` per request. The connection reads until a short read (or EAGAIN) and writes
///   directly; it only waits for EPOLLOUT after the socket refused bytes.
/// - Each registration has its own 64-bit token (never reused on this loop), so an event still
///   in flight for a closed connection cannot reach a new connection that got the same descriptor.
/// - Other threads hand work to the loop with `execute`: a locked array of closures plus an
///   eventfd, signalled only when no wake-up is pending already (one write per batch, none from
///   the loop's own thread).
/// - Timeouts: a tick every `tickNanoseconds` (the epoll_wait timeout) checks every connection.
/// - Accepting: every loop watches the one listening socket with EPOLLEXCLUSIVE (the kernel wakes
///   one idle loop); the loop that accepts hands connections round-robin over all loops.
/// - Stopping (`shutdown()`, once, by `HTTPServer.run`): closes every connection, ends the thread,
///   and from then on `execute` runs closures at once on the caller's thread, serialised by
///   `inlineLock` (they only find closed connections, fail their waiters and return).
///   The descriptors are closed in `deinit`, so a late `execute` never signals a reused number.
final class EventLoop: @unchecked Sendable {
    // Threading: `lock` guards `tasks`, `wakePending`, `stopped` and `loopThread`. Every other
    // `var`, `readBuffer`'s contents and the state of the registered connections are only touched
    // on the loop's thread (after `stopped`, by `execute`'s callers under `inlineLock`).
    let index: Int
    let context: HTTPServerContext
    private let epollFD: Int32
    private let wakeFD: Int32
    private let tickNanoseconds: UInt64
    /// Scratch buffer every read on this loop lands in before it is fed to a decoder.
    let readBuffer: UnsafeMutableRawBufferPointer
    var dateCache = HTTPDateCache()
    /// The loop that receives the next connection this loop accepts (an offset from `index`).
    var acceptRotation = 0
    private var connections: [UInt64: HTTPConnection] = [:]
    private var nextToken = Token.firstConnection
    private var acceptor: Acceptor?
    private var listenerPausedUntil: UInt64?
    private var stopping = false
    private var exitWaiter: CheckedContinuation<Void, Never>?
    /// The batch of tasks being run (swapped with `tasks`, so neither array reallocates).
    private var runningTasks: [@Sendable () -> Void] = []

    private let lock = Lock()
    private var tasks: [@Sendable () -> Void] = []
    private var wakePending = false
    private var stopped = false
    private var loopThread: pthread_t?
    private let inlineLock = Lock()

    private enum Token {
        static let wake: UInt64 = 0
        static let listener: UInt64 = 1
        static let firstConnection: UInt64 = 2
    }

    /// Creates the epoll set and the eventfd and starts the thread.
    init(index: Int, tickNanoseconds: UInt64, context: HTTPServerContext) throws(SyscallError) {
        self.index = index
        self.context = context
        self.tickNanoseconds = tickNanoseconds
        epollFD = try Syscall.epollCreate()
        do {
            wakeFD = try Syscall.eventFD()
        } catch {
            Syscall.close(epollFD)
            throw error
        }
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
        do {
            try Syscall.epollAdd(epollFD, wakeFD, events: Syscall.epollIn, data: Token.wake)
        } catch {
            readBuffer.deallocate()
            Syscall.close(wakeFD)
            Syscall.close(epollFD)
            throw error
        }
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { raw in
            Unmanaged<EventLoop>.fromOpaque(raw!).takeRetainedValue().runLoop()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
        precondition(started == 0, "cannot start an HTTP event loop thread (error \(started))")
        pthread_detach(thread)
    }

    deinit {
        readBuffer.deallocate()
        Syscall.close(wakeFD)
        Syscall.close(epollFD)
    }

    // MARK: - Handing work to the loop

    /// Runs `task` on the loop's thread after the current batch of events (in submission order);
    /// at once on the calling thread once the loop has stopped (see the type's comment).
    func execute(_ task: @escaping @Sendable () -> Void) {
        let (signal, runNow) = lock.withLock { () -> (Bool, Bool) in
            if stopped { return (false, true) }
            tasks.append(task)
            if wakePending || loopThread.map({ pthread_equal($0, pthread_self()) != 0 }) == true { return (false, false) }
            wakePending = true
            return (true, false)
        }
        if runNow { inlineLock.withLock { task() } }
        if signal { Syscall.signalEventFD(wakeFD) }
    }

    /// `execute`, returning once `body` has run.
    func run(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            execute {
                body()
                done.resume()
            }
        }
    }

    // MARK: - Connections (on the loop's thread)

    /// Watches `connection`'s descriptor; closes the connection when epoll refuses it.
    func register(_ connection: HTTPConnection) {
        if stopping { return connection.close() }
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

    /// Stops watching a connection that is closing (before its descriptor is closed).
    func deregister(_ connection: HTTPConnection) {
        guard let token = connection.token, connections.removeValue(forKey: token) != nil else { return }
        Syscall.epollRemove(epollFD, connection.fd)
    }

    /// Closes idle connections and makes the others close after their current response.
    func drain() {
        execute { [self] in
            for connection in Array(connections.values) { connection.beginDrain() }
        }
    }

    /// Closes every connection at once (cancelling their handler Tasks) and ends the thread;
    /// returns once it has ended. Call it once.
    func shutdown() async {
        await withCheckedContinuation { (exited: CheckedContinuation<Void, Never>) in
            execute { [self] in
                for connection in Array(connections.values) { connection.close() }
                stopping = true
                exitWaiter = exited
            }
        }
    }

    // MARK: - The listening socket (on the loop's thread)

    /// Starts watching `acceptor`'s listening socket (shared by every loop, EPOLLEXCLUSIVE).
    func watch(_ acceptor: Acceptor) {
        self.acceptor = acceptor
        watchListener()
    }

    /// Stops watching the listening socket for good.
    func unwatchListener() {
        if let acceptor, listenerPausedUntil == nil { Syscall.epollRemove(epollFD, acceptor.listenFD) }
        acceptor = nil
        listenerPausedUntil = nil
    }

    /// Stops accepting for `nanoseconds` (out of descriptors: a level-triggered listener would spin).
    func pauseListener(for nanoseconds: UInt64) {
        guard let acceptor, listenerPausedUntil == nil else { return }
        Syscall.epollRemove(epollFD, acceptor.listenFD)
        listenerPausedUntil = monotonicNanoseconds() + nanoseconds
    }

    private func watchListener() {
        guard let acceptor else { return }
        listenerPausedUntil = nil
        do {
            try Syscall.epollAdd(epollFD, acceptor.listenFD, events: Syscall.epollIn | Syscall.epollExclusive, data: Token.listener)
        } catch {
            context.logger.error("cannot watch the listening socket; retrying", metadata: ["error": "\(error)"])
            listenerPausedUntil = monotonicNanoseconds() + 100_000_000
        }
    }

    // MARK: - The thread

    private func runLoop() {
        Syscall.nameCurrentThread("jobsd-http-\(index)")
        lock.withLock { loopThread = pthread_self() }
        let events = EpollEvents(capacity: 512)
        defer { events.deallocate() }
        var nextTick = monotonicNanoseconds() + tickNanoseconds
        while !stopping {
            let now = monotonicNanoseconds()
            if now >= nextTick {
                nextTick = now + tickNanoseconds
                for connection in Array(connections.values) { connection.checkTimeout(now: now) }
            }
            if let resumeAt = listenerPausedUntil, resumeAt <= now { watchListener() }
            let deadline = min(nextTick, listenerPausedUntil ?? .max)
            let hasTasks = lock.withLock { !tasks.isEmpty }
            let timeout = hasTasks ? 0 : Int32(clamping: (deadline &- min(now, deadline) + 999_999) / 1_000_000)
            let count: Int
            do {
                count = try Syscall.epollWait(epollFD, into: events, timeoutMilliseconds: timeout)
            } catch {
                preconditionFailure("HTTP event loop: \(error)")  // only EBADF/EFAULT/EINVAL: a bug
            }
            for i in 0..<count {
                switch events.data(at: i) {
                case Token.wake: Syscall.clearEventFD(wakeFD)
                case Token.listener: acceptor?.acceptPending(on: self)
                case let token: connections[token]?.handle(events: events.events(at: i))
                }
            }
            runTasks()
        }
        let leftover = lock.withLock {
            stopped = true
            defer { tasks = [] }
            return tasks
        }
        inlineLock.withLock {
            for task in leftover { task() }
        }
        exitWaiter?.resume()
        exitWaiter = nil
    }

    private func runTasks() {
        lock.withLock {
            wakePending = false
            swap(&tasks, &runningTasks)
        }
        for task in runningTasks { task() }
        runningTasks.removeAll(keepingCapacity: true)
    }
}
