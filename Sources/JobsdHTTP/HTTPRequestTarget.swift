/// Parses an origin-form request-target (RFC 9112 §3.2.1: `absolute-path [ "?" query ]`) into a
/// percent-decoded path and query (RFC 3986 §2.1). Rejects, as 400: bytes outside visible ASCII,
/// a fragment, malformed `%XX`, an encoded NUL, a `.` or `..` path segment (RFC 3986 §3.3), and a
/// path that does not decode to UTF-8.
enum HTTPRequestTarget {
    static func parse<C: Collection<UInt8>>(_ target: C) throws(HTTPDecodeError) -> (path: String, query: [(name: String, value: String)]) {
        guard target.first == ASCII.slash else {
            throw .badRequest("The request target must be an absolute path (origin-form).")
        }
        for byte in target where byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "#") {
            throw .badRequest("The request target contains a byte that is not allowed.")
        }
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
            if (length == 1 || length == 2) && decoded[start...].allSatisfy({ $0 == UInt8(ascii: ".") }) {
                throw .badRequest("The request target contains a '.' or '..' path segment.")
            }
        }
        guard let path = String(validating: decoded, as: UTF8.self) else {
            throw .badRequest("The request path does not decode to UTF-8.")
        }
        return path
    }

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
