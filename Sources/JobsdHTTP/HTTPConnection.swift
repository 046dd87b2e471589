import Dispatch
import Logging

/// One client connection: reads and decodes requests, runs one handler Task at a time (pipelined
/// requests wait in the decoder, so answers go out in request order), writes responses, enforces
/// the header/idle timeouts and closes.
///
/// Cancellation: when the client closes its side while a handler runs, that handler's Task is
/// cancelled and stream writes throw; requests already buffered still run, each in a cancelled Task.
/// Cleanup: `close()` cancels the running Task, fails pending stream writes, cancels the Dispatch
/// sources and closes the descriptor once both sources are gone; it runs once.
final class HTTPConnection: @unchecked Sendable {
    // Every `var` below is only touched on `loop.queue`.
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
        var task: Task<Void, Never>?
    }

    let fd: Int32
    let loop: EventLoop
    let context: HTTPServerContext
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

    private let readSource: any DispatchSourceRead
    var readPaused = false
    private var readCancelled = false
    private var writeSource: (any DispatchSourceWrite)?
    private var writeRunning = false
    /// Sources not yet through their cancel handler; the descriptor is closed when this reaches 0.
    private var liveSources = 1
    private var descriptorClosed = false

    /// Data buffered beyond this while a handler runs pauses reading (pipelining backpressure).
    private var maxBuffered: Int { context.configuration.maxHeaderBytes + context.configuration.maxBodyBytes + 64 * 1024 }

    init(fd: Int32, loop: EventLoop, context: HTTPServerContext) {
        self.fd = fd
        self.loop = loop
        self.context = context
        decoder = HTTPDecoder(maxHeaderBytes: context.configuration.maxHeaderBytes, maxBodyBytes: context.configuration.maxBodyBytes)
        requestStarted = monotonicNanoseconds()
        lastProgress = requestStarted
        readSource = DispatchSource.makeReadSource(fileDescriptor: fd, queue: loop.queue)
    }

    /// On `loop.queue`: registers with the loop and starts reading.
    func start() {
        loop.add(self)
        readSource.setEventHandler { [unowned self] in readAvailable() }
        readSource.setCancelHandler { [self] in sourceCancelled() }
        readSource.activate()
    }

    // MARK: - Reading

    private func readAvailable() {
        while true {
            let count: Int?
            do {
                count = try Syscall.read(fd, into: loop.readBuffer)
            } catch {
                context.logger.debug("connection read failed", metadata: ["error": "\(error)"])
                return close()
            }
            guard let count else { return }
            guard count > 0 else { return peerDidClose() }
            lastProgress = monotonicNanoseconds()
            guard case .open = phase else {
                // Closing: what the client still sends is read and dropped.
                if count < loop.readBuffer.count { return } else { continue }
            }
            if decoder.isIdle && hasServedRequest { requestStarted = lastProgress }
            decoder.feed(UnsafeRawBufferPointer(rebasing: loop.readBuffer[..<count]))
            processInput()
            guard case .open = phase else { return }
            if current != nil && decoder.bufferedByteCount > maxBuffered {
                readPaused = true
                readSource.suspend()
                return
            }
            if count < loop.readBuffer.count { return }
        }
    }

    private func peerDidClose() {
        peerClosed = true
        stopReading()
        let waiters = flushWaiters
        flushWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: HTTPServerError.connectionClosed) }
        switch phase {
        case .open:
            if let current {
                current.task?.cancel()
            } else {
                closeAfterOutput()
            }
        case .lingering: close()
        case .closingAfterWrite, .closed: break
        }
    }

    func resumeReadingIfPaused() {
        guard readPaused, !readCancelled else { return }
        readPaused = false
        readSource.resume()
    }

    private func stopReading() {
        guard !readCancelled else { return }
        readCancelled = true
        if readPaused { readSource.resume() }
        readSource.cancel()
    }

    /// Decodes and starts the next request when none is in flight; answers decode errors.
    func processInput() {
        while case .open = phase, current == nil {
            if draining { return closeAfterOutput() }
            let event: HTTPDecoder.Event?
            do {
                event = try decoder.next()
            } catch {
                return sendError(status: error.status, detail: error.detail)
            }
            switch event {
            case nil:
                if peerClosed { closeAfterOutput() }
                return
            case .continueExpected:
                output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
                flush()
            case .request(let request):
                startHandler(request)
            }
        }
    }

    private func startHandler(_ request: HTTPRequest) {
        let isHead = request.method == "HEAD"
        current = InFlight(method: request.method, path: request.path, version: request.version,
                           keepAlive: request.wantsKeepAlive, isHead: isHead, started: monotonicNanoseconds())
        let handler = context.handler
        let task = Task { [self] in
            let response = await handler(request)
            if case .stream(let body) = response.body, !isHead {
                do {
                    try await sendStreamHead(response)
                    try await body(HTTPBodyWriter(connection: self))
                    try await finishStream()
                } catch {
                    loop.queue.async { [self] in close() }
                }
            } else {
                loop.queue.async { [self] in respond(response) }
            }
        }
        current?.task = task
        if peerClosed { task.cancel() }
    }

    // MARK: - Timeouts and closing

    /// On `loop.queue`, from the loop's timer.
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

    /// On `loop.queue`: part of the server's graceful shutdown.
    func beginDrain() {
        draining = true
        if case .open = phase, current == nil { closeAfterOutput() }
    }

    /// Writes what is queued, then half-closes and lingers (so unread request bytes do not turn the
    /// answer into a reset), then closes.
    func closeAfterOutput() {
        guard case .open = phase else { return }
        phase = .closingAfterWrite
        flush()
    }

    /// On `loop.queue`: closes now. Idempotent.
    func close() {
        if case .closed = phase { return }
        phase = .closed
        current?.task?.cancel()
        current = nil
        let waiters = flushWaiters
        flushWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: HTTPServerError.connectionClosed) }
        stopReading()
        if let writeSource {
            if !writeRunning { writeSource.resume() }
            writeSource.cancel()
        }
        closeDescriptorIfUnused()
        loop.remove(self)
        context.connectionClosed()
    }

    private func sourceCancelled() {
        liveSources -= 1
        closeDescriptorIfUnused()
    }

    /// The descriptor is closed only once the connection is closed and no source watches it any
    /// more (the read source alone is cancelled early, at end of input, while writing goes on).
    private func closeDescriptorIfUnused() {
        guard case .closed = phase, liveSources == 0, !descriptorClosed else { return }
        descriptorClosed = true
        Syscall.close(fd)
    }

    // MARK: - Writing

    /// Sends as much of `output` as the socket takes; waits for writability for the rest.
    func flush() {
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
            guard let sent else { return waitForWritable() }
            outputOffset += sent
            lastProgress = monotonicNanoseconds()
        }
        output.removeAll(keepingCapacity: output.capacity <= 1 << 20)
        outputOffset = 0
        if writeRunning {
            writeRunning = false
            writeSource?.suspend()
        }
        let waiters = flushWaiters
        flushWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
        if case .closingAfterWrite = phase { outputDrainedBeforeClose() }
    }

    private func outputDrainedBeforeClose() {
        // Lingering matters only when the client may still be sending (after an error, or with
        // pipelined bytes unread); otherwise close at once.
        if peerClosed || !lingerBeforeClose && decoder.bufferedByteCount == 0 { return close() }
        Syscall.shutdownWrite(fd)
        phase = .lingering(deadline: monotonicNanoseconds() + 2_000_000_000)
    }

    private func waitForWritable() {
        guard !writeRunning else { return }
        if writeSource == nil {
            let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: loop.queue)
            source.setEventHandler { [unowned self] in flush() }
            source.setCancelHandler { [self] in sourceCancelled() }
            liveSources += 1
            writeSource = source
        }
        writeRunning = true
        writeSource!.resume()
    }
}
