import Glibc

/// A minimal HTTP/1.1 response reader: status line, the three headers that frame or end the
/// exchange (Content-Length, Transfer-Encoding: chunked, Connection: close), then the body.
extension HTTPConnection {
    /// Reads exactly one response; `head` = the request was HEAD (no body follows).
    func readResponse(head: Bool = false) throws(LoadError) -> HTTPResponse {
        let headerEnd = try readUntil([13, 10, 13, 10])
        let lines = String(decoding: bytes(upTo: headerEnd), as: UTF8.self).split(separator: "\r\n")
        consume(headerEnd + 4)
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1."),
              let status = Int(statusLine.dropFirst(9).prefix(3))
        else { throw LoadError("response", "bad status line: \(lines.first ?? "")") }
        var length: Int?
        var chunked = false
        var closes = statusLine.hasPrefix("HTTP/1.0")
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingPrefix(" ").lowercased()
            switch name {
            case "content-length": length = Int(value)
            case "transfer-encoding": chunked = value.contains("chunked")
            case "connection": closes = value.contains("close") ? true : (value.contains("keep-alive") ? false : closes)
            default: break
            }
        }
        if head || status == 204 || status == 304 || (100..<200).contains(status) {
            return HTTPResponse(status: status, body: [], closes: closes)
        }
        if chunked { return HTTPResponse(status: status, body: try readChunkedBody(), closes: closes) }
        if let length {
            try fill(atLeast: length)
            let body = bytes(upTo: length)
            consume(length)
            return HTTPResponse(status: status, body: body, closes: closes)
        }
        // No framing: the body runs to the end of the connection.
        while try receive() > 0 {}
        let body = bytes(upTo: available)
        consume(available)
        return HTTPResponse(status: status, body: body, closes: true)
    }

    /// RFC 9112 §7.1: chunk-size [extensions] CRLF data CRLF … 0 CRLF trailers CRLF.
    private func readChunkedBody() throws(LoadError) -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let lineEnd = try readUntil([13, 10])
            let line = String(decoding: bytes(upTo: lineEnd), as: UTF8.self)
            consume(lineEnd + 2)
            guard let size = Int(line.prefix { $0.isHexDigit }, radix: 16) else { throw LoadError("response", "bad chunk size: \(line)") }
            if size == 0 {
                while true {  // trailer fields, then the empty line
                    let end = try readUntil([13, 10])
                    consume(end + 2)
                    if end == 0 { return body }
                }
            }
            try fill(atLeast: size + 2)
            body += bytes(upTo: size)
            consume(size + 2)
        }
    }
}
