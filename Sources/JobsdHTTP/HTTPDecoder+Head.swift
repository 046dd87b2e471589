// MARK: - Header section (RFC 9112 §2–§6)

extension HTTPDecoder {
    typealias Bytes = UnsafeBufferPointer<UInt8>

    /// Parses a complete header section (request-line, field lines, the empty line) and decides the
    /// body framing. Errors carry 400, 413, 501 or 505.
    static func parseHead(_ head: Bytes, maxBodyBytes: Int) throws(HTTPDecodeError) -> (request: HTTPRequest, framing: Framing, expectsContinue: Bool) {
        var lines = LineIterator(bytes: head)
        guard let requestLine = try lines.next() else { throw .badRequest("The request line is missing.") }
        let (method, target, version) = try parseRequestLine(Bytes(rebasing: head[requestLine]))

        var headers = HTTPHeaders()
        var hostCount = 0
        var contentLength: Int?
        var codings: [String] = []
        var hasTransferEncoding = false
        var expectsContinue = false
        while let line = try lines.next(), !line.isEmpty {
            let (name, value) = try parseField(Bytes(rebasing: head[line]))
            if HTTPHeaders.namesEqual(name, "Host") {
                hostCount += 1
            } else if HTTPHeaders.namesEqual(name, "Content-Length") {
                contentLength = try parseContentLength(value, previous: contentLength)
            } else if HTTPHeaders.namesEqual(name, "Transfer-Encoding") {
                hasTransferEncoding = true
                codings += HTTPHeaders([("t", value)]).lowercasedTokens("t")
            } else if HTTPHeaders.namesEqual(name, "Expect") {
                expectsContinue = value.lowercased() == "100-continue"
            }
            headers.add(name, value)
        }

        // RFC 9112 §3.2: a 1.1 request has exactly one Host; never more than one.
        if version == .http1_1 && hostCount != 1 || hostCount > 1 {
            throw .badRequest(hostCount == 0 ? "The Host header is missing." : "The Host header is repeated.")
        }
        let framing = try framing(version: version, contentLength: contentLength,
                                  hasTransferEncoding: hasTransferEncoding, codings: codings, maxBodyBytes: maxBodyBytes)
        let (path, query) = try parseTarget(method: method, target: Bytes(rebasing: target))
        let request = HTTPRequest(method: method, target: String(decoding: target, as: UTF8.self), path: path, query: query,
                                  version: version, headers: headers, body: [])
        // RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
        return (request, framing, expectsContinue && version == .http1_1 && framing != .none)
    }

    /// RFC 9112 §3: `method SP request-target SP HTTP-version`, single spaces.
    private static func parseRequestLine(_ line: Bytes) throws(HTTPDecodeError) -> (String, Bytes.SubSequence, HTTPVersion) {
        let parts = line.split(separator: ASCII.space, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw .badRequest("The request line is not 'method target version'.")
        }
        guard parts[0].allSatisfy(ASCII.isTokenChar) else { throw .badRequest("The method is not a token.") }
        let version: HTTPVersion
        switch Array(parts[2]) {
        case Array("HTTP/1.1".utf8): version = .http1_1
        case Array("HTTP/1.0".utf8): version = .http1_0
        case let other where other.count == 8 && other.starts(with: "HTTP/".utf8)
            && other[5] >= 0x30 && other[5] <= 0x39 && other[6] == UInt8(ascii: ".") && other[7] >= 0x30 && other[7] <= 0x39:
            throw .init(status: 505, detail: "Only HTTP/1.0 and HTTP/1.1 are supported.")
        default:
            throw .badRequest("The HTTP version is malformed.")
        }
        return (String(decoding: parts[0], as: UTF8.self), parts[1], version)
    }

    /// RFC 9112 §3.2: origin-form, or `*` for OPTIONS (asterisk-form, §3.2.4).
    private static func parseTarget(method: String, target: Bytes) throws(HTTPDecodeError) -> (String, [(name: String, value: String)]) {
        if target.count == 1 && target[0] == UInt8(ascii: "*") {
            guard method == "OPTIONS" else { throw .badRequest("The '*' target is only allowed for OPTIONS.") }
            return ("*", [])
        }
        return try HTTPRequestTarget.parse(target)
    }

    /// RFC 9112 §5: `field-name ":" OWS field-value OWS`. No whitespace before the colon (§5.1),
    /// no obs-fold (§5.2), and no NUL, CR, LF or other control character in the value (RFC 9110 §5.5).
    static func parseField(_ line: Bytes) throws(HTTPDecodeError) -> (String, String) {
        if let first = line.first, ASCII.isWhitespace(first) {
            throw .badRequest("Obsolete line folding is not accepted.")
        }
        guard let colon = line.firstIndex(of: ASCII.colon), colon > 0 else {
            throw .badRequest("A header line has no field name and colon.")
        }
        let name = line[..<colon]
        guard name.allSatisfy(ASCII.isTokenChar) else { throw .badRequest("A header field name is not a token.") }
        let value = ASCII.trimmingWhitespace(line[(colon + 1)...])
        for byte in value where (byte < 0x20 && byte != ASCII.tab) || byte == 0x7F {
            throw .badRequest("A header field value contains a control character.")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// RFC 9112 §6.3 ¶5: a list of identical decimal values is accepted as that value; anything
    /// else, including a different value on another line, is a 400.
    private static func parseContentLength(_ value: String, previous: Int?) throws(HTTPDecodeError) -> Int {
        var result = previous
        for part in value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let digits = ASCII.trimmingWhitespace(part)
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw .badRequest("Content-Length is not a decimal number.")
            }
            let length = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            if let result, result != length { throw .badRequest("Content-Length values disagree.") }
            result = length
        }
        return result!
    }

    /// RFC 9112 §6.1 and §6.3: chunked must be the final (and only) coding; an HTTP/1.0 request with
    /// Transfer-Encoding, or a request with both Transfer-Encoding and Content-Length, is a 400.
    private static func framing(version: HTTPVersion, contentLength: Int?, hasTransferEncoding: Bool,
                                codings: [String], maxBodyBytes: Int) throws(HTTPDecodeError) -> Framing {
        if hasTransferEncoding {
            guard contentLength == nil else { throw .badRequest("Content-Length and Transfer-Encoding are both present.") }
            guard version == .http1_1 else { throw .badRequest("Transfer-Encoding is not allowed in an HTTP/1.0 request.") }
            let names = codings.map(codingName)
            if let unknown = names.first(where: { $0 != "chunked" }) {
                throw .init(status: 501, detail: "The transfer coding '\(unknown)' is not implemented.")
            }
            guard names.count == 1 else { throw .badRequest("Transfer-Encoding must be exactly 'chunked'.") }
            return .chunked
        }
        guard let contentLength, contentLength > 0 else { return .none }
        guard contentLength <= maxBodyBytes else { throw bodyTooLarge(maxBodyBytes) }
        return .length(contentLength)
    }

    /// The coding's name without its parameters (`chunked;x=1` → `chunked`).
    private static func codingName(_ coding: String) -> String {
        guard let semicolon = coding.utf8.firstIndex(of: UInt8(ascii: ";")) else { return coding }
        return String(decoding: ASCII.trimmingWhitespace(coding.utf8[..<semicolon]), as: UTF8.self)
    }

    /// RFC 9112 §7.1: `1*HEXDIG [ chunk-ext ]`; extensions are ignored.
    static func parseChunkSize(_ line: ArraySlice<UInt8>) throws(HTTPDecodeError) -> Int {
        let digits = line.prefix { ASCII.hexValue($0) != nil }
        guard !digits.isEmpty, digits.count <= 15 else { throw .badRequest("A chunk size is not a hexadecimal number.") }
        // BWS is allowed only before a ";" (RFC 9112 §7.1.1).
        let rest = line[digits.endIndex...].drop(while: ASCII.isWhitespace)
        if let first = rest.first, first != UInt8(ascii: ";") {
            throw .badRequest("A chunk size is followed by garbage.")
        }
        for byte in rest where (byte < 0x20 && byte != ASCII.tab) || byte == 0x7F {
            throw .badRequest("A chunk extension contains a control character.")
        }
        return digits.reduce(0) { $0 << 4 | Int(ASCII.hexValue($1)!) }
    }
}

/// Splits a header section into lines without their terminators (CRLF or bare LF, RFC 9112 §2.2);
/// a CR anywhere else is an error.
struct LineIterator {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    mutating func next() throws(HTTPDecodeError) -> Range<Int>? {
        guard position < bytes.count else { return nil }
        var index = position
        while index < bytes.count && bytes[index] != ASCII.lf { index += 1 }
        var end = index
        if end > position && bytes[end - 1] == ASCII.cr { end -= 1 }
        let line = position..<end
        position = index + 1
        for i in line where bytes[i] == ASCII.cr { throw .badRequest("A bare CR is not a line terminator.") }
        return line
    }
}
