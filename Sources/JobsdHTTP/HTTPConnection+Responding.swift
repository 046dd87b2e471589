// MARK: - Responses (on the loop's queue unless marked async)

extension HTTPConnection {
    /// Writes a complete `.bytes` response (or the head alone for HEAD and for a HEAD of a stream).
    func respond(_ response: HTTPResponse) {
        guard case .open = phase, let request = current else { return }
        let keepAlive = request.keepAlive && !draining && !Self.asksToClose(response)
        switch response.body {
        case .bytes(let body):
            let hasBody = Self.allowsBody(response.status)
            encodeHead(response, contentLength: hasBody || response.status == 304 ? body.count : nil,
                       chunked: false, keepAlive: keepAlive)
            if hasBody && !request.isHead { output.append(contentsOf: body) }
            finishResponse(status: response.status, keepAlive: keepAlive)
        case .stream:
            // Only HEAD gets here: the same head as GET, without running the stream.
            let chunked = request.version == .http1_1
            encodeHead(response, contentLength: nil, chunked: chunked, keepAlive: keepAlive && chunked)
            finishResponse(status: response.status, keepAlive: keepAlive && chunked)
        case .deferred:
            // A handler's misuse (from a Task, or as the reply of a deferred one): not a response.
            respond(.problem(status: 500, detail: "The handler answered with a deferred body where it cannot be deferred."))
        }
    }

    /// Answers a request the server rejects itself (400/408/413/431/501/505) and closes.
    func sendError(status: Int, detail: String) {
        guard case .open = phase else { return }
        let response = HTTPResponse.problem(status: status, detail: detail)
        guard case .bytes(let body) = response.body else { return }
        encodeHead(response, contentLength: body.count, chunked: false, keepAlive: false, version: .http1_1)
        output.append(contentsOf: body)
        // From the request's first byte (or the accept) to now: a 408 counts its whole wait.
        context.observer.requestCompleted("UNKNOWN", nil, status, Double(monotonicNanoseconds() &- requestStarted) / 1e9)
        current = nil
        lingerBeforeClose = true
        closeAfterOutput()
    }

    private func finishResponse(status: Int, keepAlive: Bool) {
        let now = monotonicNanoseconds()
        if let request = current {
            context.observer.requestCompleted(request.method, request.path, status, Double(now &- request.started) / 1e9)
        }
        current = nil
        guard keepAlive else { return closeAfterOutput() }
        hasServedRequest = true
        requestStarted = now
        processInput()  // inline (already processing): a no-op; the caller's processInput goes on
    }

    // MARK: - Streams

    /// Async, from the request's Task: writes the head of a streamed response.
    func sendStreamHead(_ response: HTTPResponse) async throws {
        try await onLoop { [self] in
            guard case .open = phase, var request = current else { throw HTTPServerError.connectionClosed }
            // HTTP/1.0 has no chunked coding: the body ends when the connection closes (RFC 9112 §6.3 ¶8).
            let chunked = request.version == .http1_1
            request.keepAlive = request.keepAlive && chunked && !draining && !Self.asksToClose(response)
            request.status = response.status
            request.streaming = true
            current = request
            encodeHead(response, contentLength: nil, chunked: chunked, keepAlive: request.keepAlive)
            flush()
        }
    }

    /// Async, from the request's Task: sends one chunk and returns once the socket took it
    /// (backpressure); throws `HTTPServerError.connectionClosed` when the client is gone.
    func writeChunk(_ bytes: [UInt8]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.execute { [self] in
                guard case .open = phase, !peerClosed, let request = current else {
                    return continuation.resume(throwing: HTTPServerError.connectionClosed)
                }
                if request.version == .http1_1 {
                    Self.appendHex(bytes.count, to: &output)
                    output.append(contentsOf: "\r\n".utf8)
                    output.append(contentsOf: bytes)
                    output.append(contentsOf: "\r\n".utf8)
                } else {
                    output.append(contentsOf: bytes)
                }
                flushWaiters.append(continuation)
                flush()
            }
        }
    }

    /// Async, from the request's Task: ends a streamed response (the last chunk, RFC 9112 §7.1).
    func finishStream() async throws {
        try await onLoop { [self] in
            guard case .open = phase, let request = current else { throw HTTPServerError.connectionClosed }
            if request.version == .http1_1 { output.append(contentsOf: "0\r\n\r\n".utf8) }
            finishResponse(status: request.status, keepAlive: request.keepAlive)
        }
    }

    private func onLoop(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.execute {
                do {
                    try body()
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    // MARK: - Encoding (RFC 9112 §4, §6)

    private func encodeHead(_ response: HTTPResponse, contentLength: Int?, chunked: Bool, keepAlive: Bool,
                            version: HTTPVersion? = nil) {
        let date = loop.dateCache.current()
        Self.encodeHead(response, contentLength: contentLength, chunked: chunked, keepAlive: keepAlive,
                        http1_0: (version ?? current?.version) == .http1_0, date: date, into: &output)
    }

    /// Static, on an `inout` buffer: one exclusive access to `output` for the whole head instead of
    /// one per appended byte.
    private static func encodeHead(_ response: HTTPResponse, contentLength: Int?, chunked: Bool, keepAlive: Bool,
                                   http1_0: Bool, date: [UInt8], into output: inout [UInt8]) {
        let status = (100...999).contains(response.status) ? response.status : 500
        output.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(status, to: &output)
        output.append(ASCII.space)
        output.append(contentsOf: HTTPResponse.reasonPhrase(for: status).utf8)
        output.append(contentsOf: "\r\n".utf8)
        var hasDate = false
        var hasServer = false
        for (name, value) in response.headers {
            if HTTPHeaders.namesEqual(name, "Content-Length") || HTTPHeaders.namesEqual(name, "Transfer-Encoding")
                || HTTPHeaders.namesEqual(name, "Connection") || !name.utf8.allSatisfy(ASCII.isTokenChar) {
                continue
            }
            hasDate = hasDate || HTTPHeaders.namesEqual(name, "Date")
            hasServer = hasServer || HTTPHeaders.namesEqual(name, "Server")
            output.append(contentsOf: name.utf8)
            output.append(contentsOf: ": ".utf8)
            // A value must not end the field line early (response splitting): controls become spaces.
            for byte in value.utf8 { output.append(byte < 0x20 && byte != ASCII.tab || byte == 0x7F ? ASCII.space : byte) }
            output.append(contentsOf: "\r\n".utf8)
        }
        if !hasDate {
            output.append(contentsOf: "Date: ".utf8)
            output.append(contentsOf: date)
            output.append(contentsOf: "\r\n".utf8)
        }
        if !hasServer { output.append(contentsOf: "Server: jobsd\r\n".utf8) }
        if let contentLength {
            output.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(contentLength, to: &output)
            output.append(contentsOf: "\r\n".utf8)
        } else if chunked {
            output.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8)
        }
        if !keepAlive {
            output.append(contentsOf: "Connection: close\r\n".utf8)
        } else if http1_0 {
            output.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        output.append(contentsOf: "\r\n".utf8)
    }

    /// RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no content.
    private static func allowsBody(_ status: Int) -> Bool {
        !(100..<200).contains(status) && status != 204 && status != 304
    }

    private static func asksToClose(_ response: HTTPResponse) -> Bool {
        response.headers.lowercasedTokens("Connection").contains("close")
    }

    static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        if value >= 10 { appendDecimal(value / 10, to: &bytes) }
        bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    static func appendHex(_ value: Int, to bytes: inout [UInt8]) {
        if value >= 16 { appendHex(value / 16, to: &bytes) }
        bytes.append(value % 16 < 10 ? UInt8(ascii: "0") + UInt8(value % 16) : UInt8(ascii: "a") + UInt8(value % 16 - 10))
    }
}
