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

    /// The next chunk-size, chunk-data-end or trailer line without its CRLF, or nil when it has not
    /// fully arrived. RFC 9112 §2.2: a line ends with CRLF only. A bare LF (which §2.2 lets a
    /// recipient accept) or a CR not followed by LF is a 400 here, as in llhttp's strict mode and
    /// h11: a front end that honours only CRLF must never disagree with us on where a chunk or a
    /// request ends (request smuggling). A line over `maxChunkLineBytes` is a 400 too.
    private mutating func takeLine() throws(HTTPDecodeError) -> Range<Int>? {
        let limit = min(buffer.count, start + Self.maxChunkLineBytes + 2)
        var index = start
        while index < limit {
            switch buffer[index] {
            case ASCII.lf:
                throw Self.bareLF
            case ASCII.cr:
                guard index + 1 < buffer.count else { return nil }
                guard buffer[index + 1] == ASCII.lf else { throw Self.bareCR }
                let line = start..<index
                start = index + 2
                return line
            default:
                index += 1
            }
        }
        if bufferedByteCount > Self.maxChunkLineBytes + 1 {
            throw .badRequest("A chunk-size or trailer line is too long.")
        }
        return nil
    }

    static var bareLF: HTTPDecodeError { .badRequest("A bare LF is not a line terminator; lines end with CRLF.") }
    static var bareCR: HTTPDecodeError { .badRequest("A CR not followed by LF is not allowed.") }

    // MARK: - Head

    private mutating func decodeHead() throws(HTTPDecodeError) -> (request: HTTPRequest, framing: Framing, expectsContinue: Bool)? {
        // RFC 9112 §2.2: ignore empty lines (CRLF) received before the request-line.
        while bufferedByteCount >= 2 && buffer[start] == ASCII.cr && buffer[start + 1] == ASCII.lf { start += 2 }
        scanFrom = max(scanFrom, start)
        guard let end = try findEndOfHead() else {
            if bufferedByteCount > maxHeaderBytes { throw Self.headersTooLarge(maxHeaderBytes) }
            return nil
        }
        let range = start..<end
        start = end
        scanFrom = end
        let maxBody = maxBodyBytes
        return try buffer.withUnsafeBufferPointer { all throws(HTTPDecodeError) in
            try Self.parseHead(UnsafeBufferPointer(rebasing: all[range]), maxBodyBytes: maxBody)
        }
    }

    /// The index just past the CRLF CRLF that ends the header section, or nil when it has not
    /// arrived within `maxHeaderBytes`. Scans each byte once (resuming at `scanFrom`) and fails as
    /// soon as a line ending is not CRLF (RFC 9112 §2.2, see `takeLine`): a bare LF, or a CR
    /// followed by anything but LF, is a 400, before the rest of the section arrives.
    private mutating func findEndOfHead() throws(HTTPDecodeError) -> Int? {
        let start = start
        let limit = min(buffer.count, start + maxHeaderBytes)
        var resume = scanFrom
        let end = try buffer.withUnsafeBufferPointer { bytes throws(HTTPDecodeError) -> Int? in
            var index = scanFrom
            defer { resume = index }
            while index < limit {
                switch bytes[index] {
                case ASCII.lf:
                    guard index > start, bytes[index - 1] == ASCII.cr else { throw Self.bareLF }
                    // Every earlier LF was checked to follow a CR: LF CR LF is CRLF CRLF.
                    if index - 2 >= start && bytes[index - 2] == ASCII.lf {
                        index += 1
                        return index
                    }
                case ASCII.cr:
                    guard index + 1 < bytes.count else { return nil }  // decided when the next byte comes
                    guard bytes[index + 1] == ASCII.lf else { throw Self.bareCR }
                default:
                    break
                }
                index += 1
            }
            return nil
        }
        scanFrom = resume
        return end
    }

    static func headersTooLarge(_ limit: Int) -> HTTPDecodeError {
        .init(status: 431, detail: "The request header section is larger than \(limit) bytes.")
    }

    static func bodyTooLarge(_ limit: Int) -> HTTPDecodeError {
        .init(status: 413, detail: "The request body is larger than \(limit) bytes.")
    }
}
