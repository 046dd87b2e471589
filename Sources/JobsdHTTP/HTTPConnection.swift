import Glibc
import Logging

/// One client connection, owned by one `EventLoop`: reads and decodes requests, answers one at a
/// time (pipelined requests wait in the decoder, so answers go out in request order), writes
/// responses, enforces the header/idle timeouts and closes.
///
/// A request is answered inline on the loop's queue when the server's immediate handler has an
/// answer for it; otherwise its handler runs in a Task and the response comes back through
/// `loop.execute`.
///
/// Backpressure: while a handler runs, or while more than `maxPendingOutput` bytes of answers
/// wait for the client to read them, no further request starts; data buffered beyond
/// `maxBuffered` then pauses reading.
///
/// Cancellation: when the client closes its side while a handler runs, that handler's Task is
/// cancelled and stream writes throw; requests already buffered still run, each in a cancelled Task.
/// Cleanup: `close()` runs once: it cancels the running Task, fails pending stream writes, drops
/// unsent output, removes the descriptor from the loop's epoll set and shuts the socket down (the
/// client sees the end at once). The descriptor itself is closed in exactly one place, `deinit`,
/// after the last reference to the connection is gone: while anything (a late closure, a Task, a
/// stale event) can still name this connection, its descriptor number cannot be reused by another
/// connection, so no byte meant for this client can ever reach another one. A closed connection
/// never reads or writes again (`flush()` and the read loop check the phase first).
final class HTTPConnection: @unchecked Sendable {
    // Every `var` below is only touched on the loop's queue (see `EventLoop`).
    enum Phase { case open, closingAfterWrite, lingering(deadline: UInt64), closed }

    /// The request whose handler is running or whose response is being written.
    struct InFlight {
        var method: String
        var path: String
        var version: HTTPVersion
        var keepAlive: Bool
        var isHead: Bool
        var started: UInt64
        /// The status of a streamed response, once its head is sent.
        var status = 200
        /// A streamed response's head is on its way: the request is counted as answered even
        /// when the client goes away before the stream's end (a follow or event stream usually ends so).
        var streaming = false
        var task: Task<Void, Never>?
    }

    let fd: Int32
    let loop: EventLoop
    let context: HTTPServerContext
    /// The loop's registration token; nil until registered.
    var token: UInt64?
    var phase = Phase.open
    var decoder: HTTPDecoder
    var current: InFlight?
    /// The client has closed its side (read returned 0).
    var peerClosed = false
    /// The server is shutting down: answer with `Connection: close`, start no new request.
    var draining = false
    var output: [UInt8] = []
    var outputOffset = 0
    /// Stream writers waiting for `output` to drain (backpressure).
    var flushWaiters: [CheckedContinuation<Void, any Error>] = []
    /// When the current request began (accept, end of the previous response, or its first byte).
    var requestStarted: UInt64
    var lastProgress: UInt64
    var hasServedRequest = false
    /// Set after an error answer: the client may still be sending the request we refused.
    var lingerBeforeClose = false

    /// Edge-triggered input: the socket may hold bytes not read yet.
    private var readable = false
    /// The peer's FIN (EPOLLRDHUP) was seen: read on to end of stream even after a short read.
    private var endOfInputPending = false
    var readPaused = false
    /// `output` holds bytes the socket refused; EPOLLOUT resumes `flush()`.
    private var waitingForWritable = false
    /// `processInput()` is on the stack: responses finished inside it do not re-enter it.
    private var processing = false

    /// Data buffered beyond this while no request can start pauses reading (pipelining backpressure).
    private var maxBuffered: Int { context.configuration.maxHeaderBytes + context.configuration.maxBodyBytes + 64 * 1024 }
    /// Unsent answers beyond this stop further pipelined requests from starting.
    private static let maxPendingOutput = 256 * 1024
    /// Reads one readiness event performs at most before yielding to the loop's other connections.
    private static let readsPerTurn = 16

    init(fd: Int32, loop: EventLoop, context: HTTPServerContext) {
        self.fd = fd
        self.loop = loop
        self.context = context
        decoder = HTTPDecoder(maxHeaderBytes: context.configuration.maxHeaderBytes, maxBodyBytes: context.configuration.maxBodyBytes)
        requestStarted = monotonicNanoseconds()
        lastProgress = requestStarted
    }

    /// The one place the descriptor is closed: after the last user of this connection is gone.
    deinit {
        Syscall.close(fd)
    }

    /// From the loop, with the epoll event mask.
    func handle(events: UInt32) {
        if events & (Syscall.epollRDHup | Syscall.epollHup) != 0 { endOfInputPending = true }
        if events & (Syscall.epollOut | Syscall.epollErr | Syscall.epollHup) != 0, waitingForWritable {
            waitingForWritable = false
            flush()
            // Pipelined requests held back while the client was not reading its answers.
            if case .open = phase, !waitingForWritable, current == nil { processInput() }
        }
        if events & (Syscall.epollIn | Syscall.epollRDHup | Syscall.epollErr | Syscall.epollHup) != 0 {
            readable = true
            readAvailable()
        }
    }

    // MARK: - Reading

    private func readAvailable() {
        var reads = 0
        while readable, !readPaused, !peerClosed {
            if case .closed = phase { return }
            if reads == Self.readsPerTurn {
                // Fairness: come back after the loop's other events.
                return loop.execute { [self] in readAvailable() }
            }
            reads += 1
            let count: Int?
            do {
                count = try Syscall.read(fd, into: loop.readBuffer)
            } catch {
                context.logger.debug("connection read failed", metadata: ["error": "\(error)"])
                return close()
            }
            guard let count else {
                readable = false
                return
            }
            guard count > 0 else {
                readable = false
                return peerDidClose()
            }
            if count < loop.readBuffer.count && !endOfInputPending { readable = false }
            lastProgress = monotonicNanoseconds()
            // Closing: what the client still sends is read and dropped.
            guard case .open = phase else { continue }
            if decoder.isIdle && hasServedRequest { requestStarted = lastProgress }
            decoder.feed(UnsafeRawBufferPointer(rebasing: loop.readBuffer[..<count]))
            processInput()
            if case .open = phase, !canStartRequest, decoder.bufferedByteCount > maxBuffered {
                readPaused = true
            }
        }
    }

    private func peerDidClose() {
        peerClosed = true
        let waiters = flushWaiters
        flushWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: HTTPServerError.connectionClosed) }
        switch phase {
        case .open:
            if let current {
                current.task?.cancel()
            } else {
                processInput()  // ends in closeAfterOutput once every buffered request is answered
            }
        case .lingering: close()
        case .closingAfterWrite, .closed: break
        }
    }

    func resumeReadingIfPaused() {
        guard readPaused else { return }
        readPaused = false
        readAvailable()
    }

    /// No request is in flight and the client is reading its answers.
    private var canStartRequest: Bool { current == nil && output.count - outputOffset <= Self.maxPendingOutput }

    /// Decodes and starts requests while none is in flight; answers decode errors; then sends
    /// what the requests answered inline produced, in one write, and resumes paused reading.
    func processInput() {
        guard !processing else { return }
        processing = true
        while startBufferedRequests() {
            // Held back by unsent answers: when the socket takes them all, go on at once.
            flush()
            guard case .open = phase, !waitingForWritable else { break }
        }
        processing = false
        if !waitingForWritable { flush() }
        resumeReadingIfPaused()
    }

    /// True when it stopped because too many answers wait to be sent (not for want of input).
    private func startBufferedRequests() -> Bool {
        decoding: while case .open = phase {
            guard canStartRequest else { return current == nil }
            if draining {
                closeAfterOutput()
                break
            }
            let event: HTTPDecoder.Event?
            do {
                event = try decoder.next()
            } catch {
                sendError(status: error.status, detail: error.detail)
                break
            }
            switch event {
            case nil:
                if peerClosed { closeAfterOutput() }
                break decoding
            case .continueExpected:
                output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
            case .request(let request):
                startHandler(request)
            }
        }
        return false
    }

    private func startHandler(_ request: HTTPRequest) {
        let isHead = request.method == "HEAD"
        current = InFlight(method: request.method, path: request.path, version: request.version,
                           keepAlive: request.wantsKeepAlive, isHead: isHead, started: monotonicNanoseconds())
        if let immediate = context.immediateHandler, let response = immediate(request) {
            switch response.body {
            case .stream where !isHead: runTask { response }
            case let .deferred(start): start { [self] later in loop.execute { [self] in respond(later) } }
            default: respond(response)
            }
            return
        }
        let handler = context.handler
        runTask { await handler(request) }
    }

    /// Runs `makeResponse` in a Task and sends its response (streamed from the Task).
    private func runTask(_ makeResponse: @escaping @Sendable () async -> HTTPResponse) {
        let isHead = current?.isHead ?? false
        let task = Task { [self] in
            let response = await makeResponse()
            if case .stream(let body) = response.body, !isHead {
                do {
                    try await sendStreamHead(response)
                    try await body(HTTPBodyWriter(connection: self))
                    try await finishStream()
                } catch {
                    loop.execute { [self] in close() }
                }
            } else {
                loop.execute { [self] in respond(response) }
            }
        }
        current?.task = task
        if peerClosed { task.cancel() }
    }

    // MARK: - Timeouts and closing

    /// On the loop's queue, from its tick.
    func checkTimeout(now: UInt64) {
        let stalled = output.count > outputOffset && now &- lastProgress > context.idleTimeout
        switch phase {
        case .closed: return
        case .lingering(let deadline): if now >= deadline { close() }
        case .closingAfterWrite: if stalled { close() }
        case .open:
            if stalled { return close() }
            guard current == nil, output.count == outputOffset else { return }
            if decoder.isIdle && hasServedRequest {
                if now &- requestStarted > context.idleTimeout { close() }
            } else if decoder.isReadingHead {
                if now &- requestStarted > context.headerTimeout {
                    sendError(status: 408, detail: "The request header section was not received in time.")
                }
            } else if now &- lastProgress > context.headerTimeout {
                sendError(status: 408, detail: "The request body stopped arriving.")
            }
        }
    }

    /// On the loop's queue: part of the server's graceful shutdown.
    func beginDrain() {
        draining = true
        if case .open = phase, current == nil { closeAfterOutput() }
    }

    /// Writes what is queued, then half-closes and lingers (so unread request bytes do not turn the
    /// answer into a reset), then closes.
    func closeAfterOutput() {
        guard case .open = phase else { return }
        phase = .closingAfterWrite
        if !processing { flush() }
    }

    /// On the loop's queue: closes now. Idempotent.
    func close() {
        if case .closed = phase { return }
        phase = .closed
        if let request = current, request.streaming {
            context.observer.requestCompleted(request.method, request.path, request.status,
                                              Double(monotonicNanoseconds() &- request.started) / 1e9)
        }
        current?.task?.cancel()
        current = nil
        let waiters = flushWaiters
        flushWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: HTTPServerError.connectionClosed) }
        output = []
        outputOffset = 0
        loop.deregister(self)
        Syscall.shutdownBoth(fd)
        context.connectionClosed()
    }

    // MARK: - Writing

    /// Sends as much of `output` as the socket takes; the rest waits for EPOLLOUT. Does nothing
    /// once the connection is closed (a failed send closes it and drops the rest).
    func flush() {
        if case .closed = phase { return }
        while outputOffset < output.count {
            let sent: Int?
            do {
                sent = try output.withUnsafeBytes { bytes throws(SyscallError) in
                    try Syscall.send(fd, UnsafeRawBufferPointer(rebasing: bytes[outputOffset...]))
                }
            } catch {
                context.logger.debug("connection write failed", metadata: ["error": "\(error)"])
                return close()
            }
            guard let sent else {
                waitingForWritable = true
                return
            }
            outputOffset += sent
            lastProgress = monotonicNanoseconds()
        }
        output.removeAll(keepingCapacity: output.capacity <= 1 << 16)
        outputOffset = 0
        let waiters = flushWaiters
        flushWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
        if case .closingAfterWrite = phase { outputDrainedBeforeClose() }
    }

    private func outputDrainedBeforeClose() {
        // Lingering matters only when the client may still be sending (after an error, or with
        // pipelined bytes unread); otherwise close at once.
        if peerClosed || !lingerBeforeClose && decoder.bufferedByteCount == 0 && !readable { return close() }
        Syscall.shutdownWrite(fd)
        phase = .lingering(deadline: monotonicNanoseconds() + 2_000_000_000)
        readPaused = false
        readAvailable()
    }
}
