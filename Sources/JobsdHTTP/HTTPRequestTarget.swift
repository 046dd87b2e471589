/// Parses a request-target into a percent-decoded path and query (RFC 3986 §2.1):
/// origin-form (RFC 9112 §3.2.1: `absolute-path [ "?" query ]`) or absolute-form (§3.2.2:
/// `http://authority/path?query`, which a server MUST accept; its path and query route as usual).
/// Rejects, as 400: bytes outside visible ASCII, a fragment, malformed `%XX`, an encoded NUL, a
/// `.` or `..` path segment (RFC 3986 §3.3), a path that does not decode to UTF-8, and in
/// absolute-form a scheme other than http/https, an empty host (RFC 9110 §4.2.1: MUST reject) or
/// userinfo (RFC 9110 §4.2.4: treat as an error).
enum HTTPRequestTarget {
    static func parse<C: Collection<UInt8>>(_ target: C) throws(HTTPDecodeError) -> (path: String, query: [(name: String, value: String)]) {
        for byte in target where byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "#") {
            throw .badRequest("The request target contains a byte that is not allowed.")
        }
        if target.first == ASCII.slash { return try parseOriginForm(target) }
        guard let pathStart = try absoluteFormPathStart(target) else {
            throw .badRequest("The request target must be an absolute path (origin-form) or an http(s) URI (absolute-form).")
        }
        // An empty path is "/" (RFC 9110 §4.2.3).
        let rest = target[pathStart...]
        return try parseOriginForm(rest.first == ASCII.slash ? Array(rest) : [ASCII.slash] + rest)
    }

    /// In absolute-form, where the path (or the query, or the end) begins after
    /// `scheme "://" authority`; nil when `target` is not absolute-form.
    private static func absoluteFormPathStart<C: Collection<UInt8>>(_ target: C) throws(HTTPDecodeError) -> C.Index? {
        guard let colon = target.firstIndex(of: ASCII.colon) else { return nil }
        // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), case-insensitive.
        let scheme = String(decoding: target[..<colon].map(ASCII.lowercased), as: UTF8.self)
        guard scheme == "http" || scheme == "https" else {
            if let first = target.first, ASCII.lowercased(first) >= UInt8(ascii: "a") && ASCII.lowercased(first) <= UInt8(ascii: "z") {
                throw .badRequest("The request target's scheme must be http or https.")
            }
            return nil
        }
        let afterColon = target[target.index(after: colon)...]
        guard afterColon.starts(with: "//".utf8) else { throw .badRequest("An absolute-form target must have an authority ('//host').") }
        let authorityStart = target.index(afterColon.startIndex, offsetBy: 2)
        let authorityEnd = target[authorityStart...].firstIndex { $0 == ASCII.slash || $0 == UInt8(ascii: "?") } ?? target.endIndex
        let authority = target[authorityStart..<authorityEnd]
        guard !authority.contains(UInt8(ascii: "@")) else { throw .badRequest("The request target must not carry userinfo.") }
        guard isAuthority(authority, allowEmpty: false) else { throw .badRequest("The request target's host is missing or malformed.") }
        return authorityEnd
    }

    /// `uri-host [ ":" port ]` (RFC 9110 §4.2.1, RFC 3986 §3.2.2): reg-name, IPv4 or an IP literal
    /// in brackets, then digits; percent-encoding is allowed in a reg-name.
    static func isAuthority<C: Collection<UInt8>>(_ authority: C, allowEmpty: Bool) -> Bool {
        if authority.isEmpty { return allowEmpty }
        var host = authority[...]
        var port: C.SubSequence?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = authority[authority.index(after: authority.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ ASCII.hexValue($0) != nil || $0 == ASCII.colon || $0 == UInt8(ascii: ".") }) else { return false }
            let after = authority[authority.index(after: close)...]
            if let first = after.first {
                guard first == ASCII.colon else { return false }
                port = after.dropFirst()
            }
            host = authority[authority.startIndex..<authority.startIndex]
        } else if let colon = authority.firstIndex(of: ASCII.colon) {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        if authority.first != UInt8(ascii: "[") {
            guard !host.isEmpty, host.allSatisfy(isRegNameByte) else { return false }
        }
        if let port { return port.allSatisfy(ASCII.isDigit) }
        return true
    }

    /// unreserved / pct-encoded / sub-delims (RFC 3986 §3.2.2).
    private static func isRegNameByte(_ byte: UInt8) -> Bool { regNameTable[Int(byte)] }

    private static let regNameTable: [Bool] = (0..<256).map { value in
        let c = UInt8(value)
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return Array("-._~%!$&'()*+,;=".utf8).contains(c)
        }
    }

    private static func parseOriginForm<C: Collection<UInt8>>(_ target: C) throws(HTTPDecodeError) -> (path: String, query: [(name: String, value: String)]) {
        let questionMark = target.firstIndex(of: UInt8(ascii: "?"))
        let rawPath = target[..<(questionMark ?? target.endIndex)]
        let path = try decodePath(rawPath)
        var query: [(name: String, value: String)] = []
        if let questionMark {
            let rawQuery = target[target.index(after: questionMark)...]
            for pair in rawQuery.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
                let equals = pair.firstIndex(of: UInt8(ascii: "="))
                let name = try decodeComponent(pair[..<(equals ?? pair.endIndex)], plusIsSpace: true)
                let value = equals.map { pair[pair.index(after: $0)...] }
                query.append((name: name, value: try value.map { v throws(HTTPDecodeError) in try decodeComponent(v, plusIsSpace: true) } ?? ""))
            }
        }
        return (path, query)
    }

    private static func decodePath<C: Collection<UInt8>>(_ raw: C) throws(HTTPDecodeError) -> String {
        if !raw.contains(ASCII.percent) {
            // Nothing to decode (the usual case): the path is `raw` itself, visible ASCII (checked
            // by `parse`), so valid UTF-8; only its segments are checked.
            var segmentLength = 0
            var allDots = true
            for byte in raw.dropFirst() {
                if byte == ASCII.slash {
                    if isDotSegment(length: segmentLength, allDots: allDots) { throw dotSegment }
                    segmentLength = 0
                    allDots = true
                } else {
                    segmentLength += 1
                    allDots = allDots && byte == UInt8(ascii: ".")
                }
            }
            if isDotSegment(length: segmentLength, allDots: allDots) { throw dotSegment }
            return String(decoding: raw, as: UTF8.self)
        }
        // Segments are checked after decoding so that `%2e%2e` is caught like `..`.
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        var first = true
        for segment in raw.split(separator: ASCII.slash, omittingEmptySubsequences: false) {
            if first { first = false; continue }  // the empty piece before the leading "/"
            decoded.append(ASCII.slash)
            let start = decoded.count
            try percentDecode(segment, plusIsSpace: false, into: &decoded)
            let length = decoded.count - start
            if isDotSegment(length: length, allDots: decoded[start...].allSatisfy({ $0 == UInt8(ascii: ".") })) { throw dotSegment }
        }
        guard let path = String(validating: decoded, as: UTF8.self) else {
            throw .badRequest("The request path does not decode to UTF-8.")
        }
        return path
    }

    /// `.` or `..` (RFC 3986 §3.3), refused.
    private static func isDotSegment(length: Int, allDots: Bool) -> Bool { (length == 1 || length == 2) && allDots }

    private static var dotSegment: HTTPDecodeError { .badRequest("The request target contains a '.' or '..' path segment.") }

    private static func decodeComponent<C: Collection<UInt8>>(_ raw: C, plusIsSpace: Bool) throws(HTTPDecodeError) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        try percentDecode(raw, plusIsSpace: plusIsSpace, into: &decoded)
        guard let text = String(validating: decoded, as: UTF8.self) else {
            throw .badRequest("A query parameter does not decode to UTF-8.")
        }
        return text
    }

    private static func percentDecode<C: Collection<UInt8>>(_ raw: C, plusIsSpace: Bool, into out: inout [UInt8]) throws(HTTPDecodeError) {
        var index = raw.startIndex
        while index != raw.endIndex {
            let byte = raw[index]
            raw.formIndex(after: &index)
            if byte == ASCII.percent {
                guard index != raw.endIndex, let high = ASCII.hexValue(raw[index]) else { throw badPercent }
                raw.formIndex(after: &index)
                guard index != raw.endIndex, let low = ASCII.hexValue(raw[index]) else { throw badPercent }
                raw.formIndex(after: &index)
                let value = high << 4 | low
                if value == 0 { throw .badRequest("The request target contains an encoded NUL.") }
                out.append(value)
            } else if plusIsSpace && byte == UInt8(ascii: "+") {
                out.append(ASCII.space)
            } else {
                out.append(byte)
            }
        }
    }

    private static var badPercent: HTTPDecodeError { .badRequest("The request target contains malformed percent-encoding.") }
}
