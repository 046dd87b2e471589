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
            let (nameBytes, valueBytes) = try parseField(Bytes(rebasing: head[line]))
            let name = String(decoding: nameBytes, as: UTF8.self)
            let value = String(decoding: valueBytes, as: UTF8.self)
            if HTTPHeaders.namesEqual(name, "Host") {
                hostCount += 1
                // RFC 9112 §3.2: a Host field with an invalid value is a 400.
                guard HTTPRequestTarget.isAuthority(valueBytes, allowEmpty: true) else { throw .badRequest("The Host header is not a host[:port].") }
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

        // RFC 9112 §3.2: a 1.1 request has exactly one Host; never more than one. (With an
        // absolute-form target its value is ignored, §3.2.2, but the rule still holds.)
        if version == .http1_1 && hostCount != 1 || hostCount > 1 {
            throw .badRequest(hostCount == 0 ? "The Host header is missing." : "The Host header is repeated.")
        }
        let framing = try framing(version: version, contentLength: contentLength,
                                  hasTransferEncoding: hasTransferEncoding, codings: codings, maxBodyBytes: maxBodyBytes)
        let (path, query) = try parseTarget(method: method, target: Bytes(rebasing: target))
        // Usually nothing was decoded or cut off: the path is the target's text, one string for both.
        let sameText = path.utf8.count == target.count && path.utf8.withContiguousStorageIfAvailable { $0.elementsEqual(target) } == true
        let targetText = sameText ? path : String(decoding: target, as: UTF8.self)
        let request = HTTPRequest(method: method, target: targetText, path: path, query: query,
                                  version: version, headers: headers, body: [])
        // RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
        return (request, framing, expectsContinue && version == .http1_1 && framing != .none)
    }

    /// RFC 9112 §3: `request-line = method SP request-target SP HTTP-version`: exactly one space
    /// between the parts, none before or after (§3 ¶3 lets a recipient split on other whitespace;
    /// strictly, a tab or a second space is a 400). `method = token` (RFC 9110 §9.1).
    /// §2.3: `HTTP-version = HTTP-name "/" DIGIT "." DIGIT`, `HTTP-name = %s"HTTP"` (case-sensitive):
    /// 1.0 and 1.1 are served, another well-formed version is a 505, anything else a 400.
    private static func parseRequestLine(_ line: Bytes) throws(HTTPDecodeError) -> (String, Bytes.SubSequence, HTTPVersion) {
        // The first two spaces end the method and the target; a third space stays in the version,
        // which is then malformed. Found in place, without splitting into arrays.
        guard let methodEnd = line.firstIndex(of: ASCII.space),
              let targetEnd = line[(methodEnd + 1)...].firstIndex(of: ASCII.space),
              methodEnd > 0, targetEnd > methodEnd + 1 else {
            throw .badRequest("The request line is not 'method target version'.")
        }
        let method = line[..<methodEnd]
        guard method.allSatisfy(ASCII.isTokenChar) else { throw .badRequest("The method is not a token.") }
        let version = Bytes(rebasing: line[(targetEnd + 1)...])
        guard version.count == 8, version[0] == UInt8(ascii: "H"), version[1] == UInt8(ascii: "T"), version[2] == UInt8(ascii: "T"),
              version[3] == UInt8(ascii: "P"), version[4] == ASCII.slash, ASCII.isDigit(version[5]), version[6] == UInt8(ascii: "."),
              ASCII.isDigit(version[7]) else {
            throw .badRequest("The HTTP version is malformed.")
        }
        let served: HTTPVersion
        switch (version[5], version[7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): served = .http1_1
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): served = .http1_0
        default: throw .init(status: 505, detail: "Only HTTP/1.0 and HTTP/1.1 are supported.")
        }
        return (String(decoding: method, as: UTF8.self), line[(methodEnd + 1)..<targetEnd], served)
    }

    /// RFC 9112 §3.2: origin-form or absolute-form (which a server MUST accept, §3.2.2; see
    /// `HTTPRequestTarget`), or `*` for OPTIONS (asterisk-form, §3.2.4). Authority-form (§3.2.3) is
    /// only for CONNECT, which this server does not serve: a 400.
    private static func parseTarget(method: String, target: Bytes) throws(HTTPDecodeError) -> (String, [(name: String, value: String)]) {
        if target.count == 1 && target[0] == UInt8(ascii: "*") {
            guard method == "OPTIONS" else { throw .badRequest("The '*' target is only allowed for OPTIONS.") }
            return ("*", [])
        }
        return try HTTPRequestTarget.parse(target)
    }

    /// RFC 9112 §5: `field-name ":" OWS field-value OWS`. No whitespace before the colon (§5.1),
    /// no obs-fold (§5.2), and no NUL, CR, LF or other control character in the value (RFC 9110 §5.5).
    /// Returns the name and the value without surrounding whitespace, in place.
    static func parseField(_ line: Bytes) throws(HTTPDecodeError) -> (name: Bytes.SubSequence, value: Bytes.SubSequence) {
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
        return (name, value)
    }

    /// RFC 9110 §8.6: `Content-Length = 1*DIGIT`. RFC 9112 §6.3 ¶5 lets a recipient either reject
    /// several values or accept identical ones; like llhttp, the strict choice: exactly one value on
    /// one line, else 400 (two parsers that resolve a list differently disagree on the framing).
    private static func parseContentLength(_ value: String, previous: Int?) throws(HTTPDecodeError) -> Int {
        guard previous == nil else { throw .badRequest("Content-Length is repeated.") }
        let digits = value.utf8
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy(ASCII.isDigit) else {
            throw .badRequest(digits.contains(UInt8(ascii: ",")) ? "Content-Length is repeated." : "Content-Length is not a decimal number.")
        }
        return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    /// RFC 9112 §6.1: a request with both Transfer-Encoding and Content-Length is rejected (400, a
    /// server MAY); Transfer-Encoding in an HTTP/1.0 request means faulty framing (400); chunked must
    /// be the final coding, else the length cannot be determined (400, MUST), and is applied only
    /// once (§7.1, 400); any other coding is not implemented (501, SHOULD). `chunked` takes no
    /// parameters, so `chunked;x=1` is not a final chunked.
    private static func framing(version: HTTPVersion, contentLength: Int?, hasTransferEncoding: Bool,
                                codings: [String], maxBodyBytes: Int) throws(HTTPDecodeError) -> Framing {
        if hasTransferEncoding {
            guard contentLength == nil else { throw .badRequest("Content-Length and Transfer-Encoding are both present.") }
            guard version == .http1_1 else { throw .badRequest("Transfer-Encoding is not allowed in an HTTP/1.0 request.") }
            guard codings.last == "chunked" else { throw .badRequest("Transfer-Encoding must end with 'chunked'.") }
            guard codings.count(where: { $0 == "chunked" }) == 1 else { throw .badRequest("'chunked' is applied more than once.") }
            if let unknown = codings.first(where: { $0 != "chunked" }) {
                throw .init(status: 501, detail: "The transfer coding '\(unknown)' is not implemented.")
            }
            return .chunked
        }
        guard let contentLength, contentLength > 0 else { return .none }
        guard contentLength <= maxBodyBytes else { throw bodyTooLarge(maxBodyBytes) }
        return .length(contentLength)
    }

    /// RFC 9112 §7.1: `chunk-size [ chunk-ext ]`, `chunk-size = 1*HEXDIG`. No leading junk (sign,
    /// `0x`, whitespace); a size that does not fit in 63 bits is a 400, not a wrap-around.
    static func parseChunkSize(_ line: ArraySlice<UInt8>) throws(HTTPDecodeError) -> Int {
        var index = line.startIndex
        var size = 0
        while index < line.endIndex, let digit = ASCII.hexValue(line[index]) {
            guard size <= Int.max >> 4 else { throw .badRequest("A chunk size is too large.") }
            size = size << 4 | Int(digit)
            index += 1
        }
        guard index > line.startIndex else { throw .badRequest("A chunk size is not a hexadecimal number.") }
        try checkChunkExtensions(line[index...])
        return size
    }

    /// RFC 9112 §7.1.1: `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`,
    /// `chunk-ext-name = token`, `chunk-ext-val = token / quoted-string` (RFC 9110 §5.6.4: qdtext and
    /// quoted-pair, no controls but HTAB). Whitespace must lead to a ";". Extensions are ignored
    /// once checked.
    static func checkChunkExtensions(_ ext: ArraySlice<UInt8>) throws(HTTPDecodeError) {
        let bad = HTTPDecodeError.badRequest("A chunk extension is malformed.")
        var index = ext.startIndex
        func skipWhitespace() { while index < ext.endIndex && ASCII.isWhitespace(ext[index]) { index += 1 } }
        func token() -> Bool {
            let first = index
            while index < ext.endIndex && ASCII.isTokenChar(ext[index]) { index += 1 }
            return index > first
        }
        while index < ext.endIndex {
            skipWhitespace()
            guard index < ext.endIndex, ext[index] == UInt8(ascii: ";") else { throw bad }
            index += 1
            skipWhitespace()
            guard token() else { throw bad }
            let beforeEquals = index
            skipWhitespace()
            guard index < ext.endIndex, ext[index] == UInt8(ascii: "=") else {
                index = beforeEquals
                continue
            }
            index += 1
            skipWhitespace()
            if index < ext.endIndex && ext[index] == UInt8(ascii: "\"") {
                index = try endOfQuotedString(ext, from: index)
            } else if !token() {
                throw bad
            }
        }
    }

    /// RFC 9110 §5.6.4: the index after the quoted-string that starts at `from` (a DQUOTE).
    private static func endOfQuotedString(_ bytes: ArraySlice<UInt8>, from: Int) throws(HTTPDecodeError) -> Int {
        var index = from + 1
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { return index + 1 }
            if byte == UInt8(ascii: "\\") {
                index += 1
                guard index < bytes.endIndex, isQuotedTextByte(bytes[index]) || bytes[index] == UInt8(ascii: "\"")
                        || bytes[index] == UInt8(ascii: "\\") else { break }
            } else if !isQuotedTextByte(byte) {
                break
            }
            index += 1
        }
        throw .badRequest("A quoted string in a chunk extension is malformed.")
    }

    /// `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text` (RFC 9110 §5.6.4).
    private static func isQuotedTextByte(_ byte: UInt8) -> Bool {
        byte == ASCII.tab || byte == ASCII.space || byte == 0x21 || (0x23...0x5B).contains(byte)
            || (0x5D...0x7E).contains(byte) || byte >= 0x80
    }
}

/// Splits a header section into lines without their CRLF (RFC 9112 §2.2). `HTTPDecoder` has
/// already checked that every LF follows a CR and every CR precedes an LF; a bare CR or LF is a 400
/// here too, so the rule holds for any caller.
struct LineIterator {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    mutating func next() throws(HTTPDecodeError) -> Range<Int>? {
        guard position < bytes.count else { return nil }
        var index = position
        while index < bytes.count && bytes[index] != ASCII.cr && bytes[index] != ASCII.lf { index += 1 }
        guard index + 1 < bytes.count, bytes[index] == ASCII.cr, bytes[index + 1] == ASCII.lf else {
            throw index < bytes.count && bytes[index] == ASCII.lf ? HTTPDecoder.bareLF : HTTPDecoder.bareCR
        }
        let line = position..<index
        position = index + 2
        return line
    }
}
