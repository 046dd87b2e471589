import Dispatch
import Glibc
import JobsdTesting
import Testing
@testable import JobsdHTTP

/// Clients that reset their connection (SO_LINGER {1, 0}) while a large response is being written,
/// beside clients that read theirs to the end. Every body is its request's 16-byte tag repeated,
/// and the tag is echoed in `X-Tag`, so a byte that reaches the wrong connection shows up as a
/// wrong status line, tag or body byte.
@Suite struct HTTPServerResetTests {
    static let largeBody = 1 << 20

    /// `/big/<tag>?size=N`: `tag` repeated to N bytes (default 1 MiB); tags starting with "I" are
    /// answered by the immediate handler (inline on the event loop), the others from a Task.
    static func tagged(_ request: HTTPRequest) -> HTTPResponse {
        let tag = Array(request.path.utf8.dropFirst(5))
        guard request.path.hasPrefix("/big/"), tag.count == 16 else { return HTTPResponse(status: 404) }
        let size = request.queryValue("size").flatMap { Int($0) } ?? largeBody
        return HTTPResponse(status: 200, headers: [("X-Tag", String(decoding: tag, as: UTF8.self))], body: .bytes(repeated(tag, size)))
    }

    /// `tag` repeated to `size` bytes (by doubling copies: this runs for every request, unoptimised).
    static func repeated(_ tag: [UInt8], _ size: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            let base = buffer.baseAddress!
            var filled = min(tag.count, size)
            tag.withUnsafeBytes { _ = memcpy(base, $0.baseAddress!, filled) }
            while filled < size {
                let step = min(filled, size - filled)
                memcpy(base + filled, base, step)
                filled += step
            }
            count = size
        }
    }

    @Test func resetsDuringLargeResponses_NeverDeliverAByteToAnotherConnection() async throws {
        let failures = Recorder()
        try await withServer(immediate: { $0.path.hasPrefix("/big/I") ? Self.tagged($0) : nil },
                             handler: { Self.tagged($0) }) { port in
            await runDispatchWorkers(count: 8) { worker in
                var random = SystemRandomNumberGenerator()
                for index in 0..<60 {
                    let kind = Bool.random(using: &random) ? "I" : "T"
                    let tag = "\(kind)\(String(worker * 1000 + index).leftPadded(to: 14))|"
                    do {
                        if Bool.random(using: &random) {
                            try Self.resetDuringResponse(port: port, tag: tag, random: &random)
                        } else {
                            try Self.readResponsesToTheEnd(port: port, tag: tag, random: &random)
                        }
                    } catch {
                        failures.append("\(tag): \(error)")
                    }
                }
            }
            // The server still serves.
            let client = try BlockingConnection(port: port)
            try client.send("GET /big/Iafterwards0000|?size=10 HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse().body == Array("Iafterwards0000|".utf8.prefix(10)))
        }
        #expect(failures.values == [])
    }

    /// Asks for 1 MiB, reads a random part of it (checking every byte; a third of the time
    /// nothing: the reset then races the server's first write), then resets.
    static func resetDuringResponse(port: Int, tag: String, random: inout SystemRandomNumberGenerator) throws {
        let connection = try BlockingConnection(port: port)
        try connection.send("GET /big/\(tag) HTTP/1.1\r\nHost: t\r\n\r\n")
        let wanted = Int.random(in: 0..<3, using: &random) == 0 ? 0 : Int.random(in: 1...300_000, using: &random)
        if wanted > 0 { try connection.fill(toAtLeast: wanted) }
        try checkPrefix(connection.buffer, tag: tag)
        connection.reset()
    }

    /// Two keep-alive requests, each response read completely and checked.
    static func readResponsesToTheEnd(port: Int, tag: String, random: inout SystemRandomNumberGenerator) throws {
        let connection = try BlockingConnection(port: port)
        for _ in 0..<2 {
            let size = Int.random(in: 1...300_000, using: &random)
            try connection.send("GET /big/\(tag)?size=\(size) HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try connection.readResponse()
            guard response.status == 200, response.header("X-Tag") == tag, response.body.count == size,
                  isTagged(response.body[...], tag: Array(tag.utf8)) else {
                throw BlockingConnection.Failure("response \(response.status) tag \(response.header("X-Tag") ?? "none") is not its own")
            }
        }
    }

    /// `bytes` must be the beginning of this tag's response: a 200 head naming the tag, then tag bytes.
    static func checkPrefix(_ bytes: [UInt8], tag: String) throws {
        let statusLine = Array("HTTP/1.1 200 OK\r\n".utf8)
        guard bytes.starts(with: statusLine.prefix(bytes.count)) else {
            throw BlockingConnection.Failure("foreign bytes where the status line should be: \(String(decoding: bytes.prefix(40), as: UTF8.self).debugDescription)")
        }
        guard let headEnd = bytes.firstRange(of: [13, 10, 13, 10]) else { return }
        guard String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self).contains("\r\nX-Tag: \(tag)") else {
            throw BlockingConnection.Failure("a head without its own tag")
        }
        guard isTagged(bytes[headEnd.upperBound...], tag: Array(tag.utf8)) else {
            throw BlockingConnection.Failure("foreign bytes inside the body")
        }
    }

    static func isTagged(_ body: ArraySlice<UInt8>, tag: [UInt8]) -> Bool {
        let expected = repeated(tag, body.count)
        return body.withUnsafeBytes { a in expected.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } }
    }
}

extension String {
    func leftPadded(to length: Int) -> String { String(repeating: "0", count: max(0, length - count)) + self }
}
