import Testing
@testable import JobsdHTTP

/// Feeds `text` (all at once, or one byte at a time) and collects the requests.
private func decodeAll(_ text: String, byteByByte: Bool = false, maxHeaderBytes: Int = 16 * 1024,
                       maxBodyBytes: Int = 1024 * 1024) throws(HTTPDecodeError) -> (requests: [HTTPRequest], continues: Int) {
    var decoder = HTTPDecoder(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
    var requests: [HTTPRequest] = []
    var continues = 0
    let chunks: [[UInt8]] = byteByByte ? text.utf8.map { [$0] } : [Array(text.utf8)]
    for chunk in chunks {
        decoder.feed(chunk)
        while let event = try decoder.next() {
            switch event {
            case .request(let request): requests.append(request)
            case .continueExpected: continues += 1
            }
        }
    }
    return (requests, continues)
}

private func decodeStatus(_ text: String, maxHeaderBytes: Int = 16 * 1024, maxBodyBytes: Int = 1024 * 1024) -> Int? {
    do {
        _ = try decodeAll(text, maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
        return nil
    } catch {
        return error.status
    }
}

@Suite struct HTTPDecoderTests {
    // MARK: - Good requests

    @Test func decode_ParsesRequestLineHeadersAndTarget() throws {
        let (requests, _) = try decodeAll("GET /v1/jobs/a%20b?state=running&label=team%3Adata&x=a+b&flag HTTP/1.1\r\nHost: x\r\nX-Thing:  spaced value \t\r\n\r\n")
        let request = try #require(requests.first)
        #expect(request.method == "GET")
        #expect(request.target == "/v1/jobs/a%20b?state=running&label=team%3Adata&x=a+b&flag")
        #expect(request.path == "/v1/jobs/a b")
        #expect(request.queryValue("state") == "running")
        #expect(request.queryValue("label") == "team:data")
        #expect(request.queryValue("x") == "a b")
        #expect(request.queryValue("flag") == "")
        #expect(request.version == .http1_1)
        #expect(request.headers["x-thing"] == "spaced value")
        #expect(request.body.isEmpty)
    }

    @Test func decode_GivesTheSameRequests_WhenFedOneByteAtATime() throws {
        let text = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        let whole = try decodeAll(text).requests
        let split = try decodeAll(text, byteByByte: true).requests
        #expect(whole.map(\.path) == ["/a", "/b"])
        #expect(split.map(\.path) == ["/a", "/b"])
        #expect(split.map(\.body) == [Array("hello".utf8), Array("abc".utf8)])
    }

    @Test func decode_ReturnsPipelinedRequestsInOrder() throws {
        let text = (1...3).map { "GET /\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined()
        #expect(try decodeAll(text).requests.map(\.path) == ["/1", "/2", "/3"])
    }

    @Test func decode_ReadsAContentLengthBody() throws {
        let (requests, _) = try decodeAll("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        #expect(requests.first?.body == Array("abc".utf8))
    }

    @Test func decode_ReadsAChunkedBody_WithExtensionsAndTrailers() throws {
        let text = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;name=value\r\nWiki\r\nA\r\n0123456789\r\n0\r\nTrailer-Field: 1\r\n\r\n"
        let (requests, _) = try decodeAll(text)
        #expect(requests.first?.body == Array("Wiki0123456789".utf8))
    }

    @Test func decode_IgnoresEmptyLinesBeforeTheRequestLine_WhenTheyEndWithCRLF() throws {
        #expect(try decodeAll("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n").requests.count == 1)
        #expect(try decodeAll("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", byteByByte: true).requests.count == 1)
        #expect(decodeStatus("\nGET / HTTP/1.1\r\nHost: x\r\n\r\n") == 400)
    }

    @Test func decode_RoutesAbsoluteFormTargets_ByTheirPathAndQuery() throws {
        let request = try #require(try decodeAll("GET http://127.0.0.1:8080/v1/jobs?state=running HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n").requests.first)
        #expect(request.path == "/v1/jobs")
        #expect(request.queryValue("state") == "running")
        #expect(request.target == "http://127.0.0.1:8080/v1/jobs?state=running")
        #expect(try decodeAll("GET HTTPS://[::1]:8080?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").requests.first?.path == "/")
        #expect(try decodeAll("GET http://example.org HTTP/1.1\r\nHost: example.org\r\n\r\n").requests.first?.path == "/")
        #expect(HTTPRequest(method: "GET", target: "http://h/v1/jobs?limit=2").queryValue("limit") == "2")
    }

    @Test func decode_AcceptsChunkExtensionsThatFollowTheGrammar() throws {
        for line in ["3;a", "3 ; a = b", "3;a=b;c", "3;a=\"q \\\" s\"", "3\t;a", "0000000000000000003"] {
            let text = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\(line)\r\nabc\r\n0\r\n\r\n"
            #expect(try decodeAll(text).requests.first?.body == Array("abc".utf8), "\(line.debugDescription)")
        }
    }

    @Test func decode_AcceptsTransferCodingNamesInAnyCase_AndHostsWithPorts() throws {
        #expect(try decodeAll("POST / HTTP/1.1\r\nHost: [::1]:80\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n").requests.count == 1)
        #expect(try decodeAll("GET / HTTP/1.1\r\nHost:\r\n\r\n").requests.count == 1)  // empty Host: allowed (RFC 9110 §7.2)
    }

    @Test func decode_AcceptsHTTP10WithoutHost_AndDefaultsToClose() throws {
        let plain = try #require(try decodeAll("GET / HTTP/1.0\r\n\r\n").requests.first)
        #expect(plain.version == .http1_0)
        #expect(!plain.wantsKeepAlive)
        let keepAlive = try #require(try decodeAll("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").requests.first)
        #expect(keepAlive.wantsKeepAlive)
        let close = try #require(try decodeAll("GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n").requests.first)
        #expect(!close.wantsKeepAlive)
    }

    @Test func decode_AcceptsAsteriskForOPTIONSOnly() throws {
        #expect(try decodeAll("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").requests.first?.path == "*")
        #expect(decodeStatus("GET * HTTP/1.1\r\nHost: x\r\n\r\n") == 400)
    }

    @Test func decode_SignalsContinue_WhenExpect100AndTheBodyHasNotArrived() throws {
        var decoder = HTTPDecoder()
        decoder.feed(Array("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8))
        guard case .continueExpected = try decoder.next() else { Issue.record("no continue"); return }
        #expect(try decoder.next() == nil)
        decoder.feed(Array("ok".utf8))
        guard case .request(let request) = try decoder.next() else { Issue.record("no request"); return }
        #expect(request.body == Array("ok".utf8))
        // Without a body there is nothing to continue.
        #expect(try decodeAll("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n").continues == 0)
    }

    @Test func decode_ReportsIdleAndHeadState() throws {
        var decoder = HTTPDecoder()
        #expect(decoder.isIdle && decoder.isReadingHead)
        decoder.feed(Array("GET / HT".utf8))
        #expect(try decoder.next() == nil)
        #expect(!decoder.isIdle && decoder.isReadingHead)
        decoder.feed(Array("TP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab".utf8))
        #expect(try decoder.next() == nil)
        #expect(!decoder.isReadingHead)
    }

    // MARK: - Bad requests

    @Test(arguments: [
        ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),              // two spaces
        ("GET /\r\nHost: x\r\n\r\n", 400),                          // no version
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),                 // method not a token
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / http/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),                            // no Host
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),      // two Hosts
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n  folded\r\n\r\n", 400), // obs-fold
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),               // space before colon
        ("GET / HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{0}b\r\n\r\n", 400),   // NUL in value
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400),      // bare CR
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{1}b\r\n\r\n", 400),   // control character
        ("GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),           // absolute-form: scheme not http(s)
        ("GET http:/x HTTP/1.1\r\nHost: x\r\n\r\n", 400),             // absolute-form: no authority
        ("GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n", 400),           // absolute-form: empty host
        ("GET http://u@x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),         // absolute-form: userinfo
        ("GET http://x:8a/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),        // absolute-form: bad port
        ("GET http://x/a/../b HTTP/1.1\r\nHost: x\r\n\r\n", 400),     // absolute-form: dot segment
        ("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400),           // authority-form
        ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),                 // Host not host[:port]
        ("GET / HTTP/1.1\r\nHost: x/y\r\n\r\n", 400),
        ("GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a%2 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a?x=%G1 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a/../b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a/%2e%2E/b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a/./b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /.. HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /%ff HTTP/1.1\r\nHost: x\r\n\r\n", 400),              // not UTF-8
        ("GET /\u{7f} HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: compress\r\n\r\n", 400),   // chunked not final
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", 400),
        // Content-Length: exactly one value.
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400),
        // Bare LF and bare CR, wherever a line ends.
        ("GET / HTTP/1.1\nHost: x\r\n\r\n", 400),                  // request line
        ("GET / HTTP/1.1\r\nHost: x\n\r\n", 400),                  // field line
        ("GET / HTTP/1.1\r\nHost: x\r\n\n", 400),                  // end of the header section
        ("GET / HTTP/1.0\n\n", 400),
        ("GET / HTTP/1.1\rHost: x\r\n\r\n", 400),                  // CR not followed by LF
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\r\n", 400),
        ("\r\rGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400),   // chunk-size line
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\nabc\r\n0\r\n\r\n", 400), // after an extension
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", 400),   // after chunk data
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\n\r\n", 400),   // last chunk
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n", 400),          // trailer
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n", 400),                // end of trailers
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\r0\r\n\r\n", 400),  // bare CR in a chunk line
        // Chunk sizes and extensions.
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;=b\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b c\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a@=b\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"open\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"\u{1}\"\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\u{7f}\r\nabc\r\n0\r\n\r\n", 400),
        // Field names and values.
        ("GET / HTTP/1.1\r\nHost: x\r\nX\t: y\r\n\r\n", 400),     // whitespace before the colon
        ("GET / HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n", 400),      // whitespace in a field name
        ("GET / HTTP/1.1\r\nHost: x\r\nX@: y\r\n\r\n", 400),       // not a token
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n\tfolded\r\n\r\n", 400),  // obs-fold with a tab
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{7f}b\r\n\r\n", 400),  // DEL in a value
        // Request line.
        (" GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
        ("GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /\tHTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GE\u{80}T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/11\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.\r\nHost: x\r\n\r\n", 400),
        ("GET / Http/1.1\r\nHost: x\r\n\r\n", 400),
    ])
    func decode_RejectsMalformedRequests(text: String, status: Int) {
        #expect(decodeStatus(text) == status, "\(text.debugDescription)")
    }

    @Test func decode_Answers431_WhenTheHeaderSectionExceedsTheLimit() {
        let big = "GET / HTTP/1.1\r\nHost: x\r\nX: \(String(repeating: "a", count: 2000))\r\n\r\n"
        #expect(decodeStatus(big, maxHeaderBytes: 1024) == 431)
        #expect(decodeStatus(big, maxHeaderBytes: 4096) == nil)
        // Also before the end of the section has arrived.
        #expect(decodeStatus("GET / HTTP/1.1\r\nX: \(String(repeating: "a", count: 2000))", maxHeaderBytes: 1024) == 431)
    }

    @Test func decode_Answers413_FromContentLengthBeforeTheBodyArrives() {
        #expect(decodeStatus("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", maxBodyBytes: 10) == 413)
        #expect(decodeStatus("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", maxBodyBytes: 10) == nil)
    }

    @Test func decode_Answers413_AsSoonAsChunksExceedTheLimit() {
        let text = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n"
        #expect(decodeStatus(text, maxBodyBytes: 10) == 413)
        #expect(decodeStatus(text, maxBodyBytes: 16) == nil)
    }

    @Test func decode_StaysFailed_AfterAnError() {
        var decoder = HTTPDecoder()
        decoder.feed(Array("BAD\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(throws: HTTPDecodeError.self) { try decoder.next() }
        #expect(throws: HTTPDecodeError.self) { try decoder.next() }
    }

    @Test func request_ParsesPathAndQueryFromTarget() {
        let request = HTTPRequest(method: "GET", target: "/v1/jobs?state=a&state=b")
        #expect(request.path == "/v1/jobs")
        #expect(request.queryValues("state") == ["a", "b"])
    }
}

extension HTTPDecoder.Event: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.continueExpected, .continueExpected): true
        case let (.request(x), .request(y)): x.target == y.target && x.body == y.body
        default: false
        }
    }
}
