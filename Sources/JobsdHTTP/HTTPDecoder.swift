/// An incremental HTTP/1.1 request decoder (RFC 9112). A pure value that never touches a socket:
/// `feed` it bytes as they arrive and call `next()` until it returns nil. After a thrown error the
/// decoder stays failed (every later `next()` rethrows it); the connection answers the error's
/// status and closes, because the framing of anything after it is unknown (RFC 9112 §9.6).
public struct HTTPDecoder: Sendable {
    public enum Event: Sendable {
        /// The head of a request carrying `Expect: 100-continue` was accepted and its body is
        /// still to come: answer `100 Continue` now (RFC 9110 §10.1.1).
        case continueExpected
        /// A complete request, body included.
        case request(HTTPRequest)
    }

    /// How the body of the message being read is delimited (RFC 9112 §6.3).
    enum Framing: Equatable { case none, length(Int), chunked }

    private enum State {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytes: Int)
    }

    public let maxHeaderBytes: Int
    public let maxBodyBytes: Int

    private var buffer: [UInt8] = []
    /// Index of the first byte not yet consumed.
    private var start = 0
    /// Where the search for the end of the header section resumes, so no byte is scanned twice.
    private var scanFrom = 0
    private var state = State.head
    /// The request whose body is being read.
    private var pending: HTTPRequest?
    private var failure: HTTPDecodeError?

    /// Longest chunk-size line (with extensions) or trailer line accepted.
    static let maxChunkLineBytes = 4096

    public init(maxHeaderBytes: Int = 16 * 1024, maxBodyBytes: Int = 1024 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    // MARK: - Input

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    public mutating func feed<S: Sequence<UInt8>>(_ bytes: S) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// True when no byte of a next request has arrived (between requests on a keep-alive connection).
    public var isIdle: Bool {
        if case .head = state, start == buffer.count { return true }
        return false
    }

    /// True while the header section of a request is incomplete (the header timeout applies).
    public var isReadingHead: Bool {
        if case .head = state { return true }
        return false
    }

    /// Bytes received and not yet returned as part of a request.
    public var bufferedByteCount: Int { buffer.count - start }

    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 16)
        } else if start >= 4096 && start * 2 >= buffer.count {
            buffer.removeFirst(start)
        } else {
            return
        }
        scanFrom = max(0, scanFrom - start)
        start = 0
    }

    // MARK: - Output

    /// The next event, or nil when more bytes are needed.
    public mutating func next() throws(HTTPDecodeError) -> Event? {
        if let failure { throw failure }
        do {
            return try step()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func step() throws(HTTPDecodeError) -> Event? {
        while true {
            switch state {
            case .head:
                guard let head = try decodeHead() else { return nil }
                switch head.framing {
                case .none:
                    return .request(head.request)
                case .length(let length):
                    pending = head.request
                    pending!.body.reserveCapacity(length)
                    state = .fixedBody(remaining: length)
                case .chunked:
                    pending = head.request
                    state = .chunkSize
                }
                if head.expectsContinue && bufferedByteCount == 0 { return .continueExpected }

            case .fixedBody(let remaining):
                let take = min(remaining, bufferedByteCount)
                pending!.body.append(contentsOf: buffer[start..<start + take])
                start += take
                if take < remaining {
                    state = .fixedBody(remaining: remaining - take)
                    return nil
                }
                return finishMessage()

            case .chunkSize:
                // RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF
                guard let line = try takeLine() else { return nil }
                let size = try Self.parseChunkSize(buffer[line])
                if size == 0 {
                    state = .trailers(bytes: 0)
                } else {
                    guard pending!.body.count + size <= maxBodyBytes else { throw Self.bodyTooLarge(maxBodyBytes) }
                    state = .chunkData(remaining: size)
                }

            case .chunkData(let remaining):
                let take = min(remaining, bufferedByteCount)
                pending!.body.append(contentsOf: buffer[start..<start + take])
                start += take
                if take < remaining {
                    state = .chunkData(remaining: remaining - take)
                    return nil
                }
                state = .chunkDataEnd

            case .chunkDataEnd:
                guard let line = try takeLine() else { return nil }
                guard line.isEmpty else { throw .badRequest("Chunk data is not followed by CRLF.") }
                state = .chunkSize

            case .trailers(let bytes):
                // RFC 9112 §7.1.2: trailer fields are parsed like header fields and discarded.
                guard let line = try takeLine() else { return nil }
                if line.isEmpty { return finishMessage() }
                let total = bytes + line.count + 2
                guard total <= maxHeaderBytes else { throw Self.headersTooLarge(maxHeaderBytes) }
                _ = try buffer.withUnsafeBufferPointer { all throws(HTTPDecodeError) in
                    try Self.parseField(UnsafeBufferPointer(rebasing: all[line]))
                }
                state = .trailers(bytes: total)
            }
        }
    }

    private mutating func finishMessage() -> Event {
        let request = pending!
        pending = nil
        state = .head
        return .request(request)
    }

    // MARK: - Lines

    /// The next line without its terminator (CRLF, or a bare LF, RFC 9112 §2.2), or nil when it
    /// has not fully arrived. A CR anywhere else, or a line over `maxChunkLineBytes`, is a 400.
    private mutating func takeLine() throws(HTTPDecodeError) -> Range<Int>? {
        let limit = min(buffer.count, start + Self.maxChunkLineBytes + 2)
        guard let lf = buffer[start..<limit].firstIndex(of: ASCII.lf) else {
            if bufferedByteCount > Self.maxChunkLineBytes + 1 {
                throw .badRequest("A chunk-size or trailer line is too long.")
            }
            return nil
        }
        var end = lf
        if end > start && buffer[end - 1] == ASCII.cr { end -= 1 }
        if buffer[start..<end].contains(ASCII.cr) { throw .badRequest("A bare CR is not a line terminator.") }
        let line = start..<end
        start = lf + 1
        return line
    }

    // MARK: - Head

    private mutating func decodeHead() throws(HTTPDecodeError) -> (request: HTTPRequest, framing: Framing, expectsContinue: Bool)? {
        // RFC 9112 §2.2: ignore empty lines received before the request-line.
        while start < buffer.count {
            if buffer[start] == ASCII.lf {
                start += 1
            } else if buffer[start] == ASCII.cr {
                guard start + 1 < buffer.count else { return nil }
                guard buffer[start + 1] == ASCII.lf else { break }
                start += 2
            } else {
                break
            }
        }
        scanFrom = max(scanFrom, start)
        var end: Int?
        buffer.withUnsafeBufferPointer { bytes in
            var index = scanFrom
            while index < bytes.count {
                if bytes[index] == ASCII.lf {
                    if index - 1 >= start && bytes[index - 1] == ASCII.lf
                        || index - 2 >= start && bytes[index - 1] == ASCII.cr && bytes[index - 2] == ASCII.lf {
                        end = index + 1
                        return
                    }
                }
                index += 1
            }
        }
        guard let end else {
            scanFrom = buffer.count
            if bufferedByteCount > maxHeaderBytes { throw Self.headersTooLarge(maxHeaderBytes) }
            return nil
        }
        guard end - start <= maxHeaderBytes else { throw Self.headersTooLarge(maxHeaderBytes) }
        let range = start..<end
        start = end
        scanFrom = end
        let maxBody = maxBodyBytes
        return try buffer.withUnsafeBufferPointer { all throws(HTTPDecodeError) in
            try Self.parseHead(UnsafeBufferPointer(rebasing: all[range]), maxBodyBytes: maxBody)
        }
    }

    static func headersTooLarge(_ limit: Int) -> HTTPDecodeError {
        .init(status: 431, detail: "The request header section is larger than \(limit) bytes.")
    }

    static func bodyTooLarge(_ limit: Int) -> HTTPDecodeError {
        .init(status: 413, detail: "The request body is larger than \(limit) bytes.")
    }
}
