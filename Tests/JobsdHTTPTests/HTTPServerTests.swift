import Dispatch
import Glibc
import Testing
@testable import JobsdHTTP

private let host = "Host: t\r\n"

private func echoPath(_ request: HTTPRequest) async -> HTTPResponse {
    HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: .bytes(Array(request.path.utf8)))
}

@Suite struct HTTPServerTests {
    // MARK: - Connection handling

    @Test func keepAlive_ServesSeveralRequestsOnOneConnection_WithDateServerAndLength() async throws {
        try await withServer(handler: echoPath) { port in
            let client = try await RawClient.connect(port: port)
            for path in ["/a", "/b", "/c"] {
                try await client.send("GET \(path) HTTP/1.1\r\n\(host)\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == path)
                #expect(response.headers["Content-Length"] == "\(path.utf8.count)")
                #expect(response.headers["Server"] == "jobsd")
                #expect(response.headers["Date"]?.hasSuffix(" GMT") == true)
                #expect(response.headers["Connection"] == nil)
            }
        }
    }

    @Test func pipelining_AnswersInRequestOrder_EvenWhenAnEarlierHandlerIsSlower() async throws {
        try await withServer(handler: { request in
            if request.path == "/slow" { try? await Task.sleep(for: .milliseconds(200)) }
            return await echoPath(request)
        }) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send(["/slow", "/fast", "/slow", "/last"].map { "GET \($0) HTTP/1.1\r\n\(host)\r\n" }.joined())
            var order: [String] = []
            for _ in 0..<4 { order.append(try await client.readResponse().text) }
            #expect(order == ["/slow", "/fast", "/slow", "/last"])
        }
    }

    @Test func http10_ClosesAfterTheResponse_UnlessKeepAliveIsAsked() async throws {
        try await withServer(handler: echoPath) { port in
            let plain = try await RawClient.connect(port: port)
            try await plain.send("GET /one HTTP/1.0\r\n\r\n")
            let first = try await plain.readResponse()
            #expect(first.headers["Connection"] == "close")
            #expect(try await plain.isClosedByServer())

            let kept = try await RawClient.connect(port: port)
            try await kept.send("GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await kept.readResponse().headers["Connection"] == "keep-alive")
            try await kept.send("GET /two HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await kept.readResponse().text == "/two")
        }
    }

    @Test func connectionClose_IsHonoured() async throws {
        try await withServer(handler: echoPath) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET /x HTTP/1.1\r\n\(host)Connection: close\r\n\r\n")
            #expect(try await client.readResponse().headers["Connection"] == "close")
            #expect(try await client.isClosedByServer())
        }
    }

    @Test func halfClosedClient_StillGetsAnswersToEveryRequestItSent() async throws {
        try await withServer(handler: echoPath) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET /one HTTP/1.1\r\n\(host)\r\nGET /two HTTP/1.1\r\n\(host)\r\n")
            client.shutdownWrite()
            #expect(try await client.readResponse().text == "/one")
            #expect(try await client.readResponse().text == "/two")
            #expect(try await client.isClosedByServer())
        }
    }

    @Test func head_SendsTheGETHeadersWithoutTheBody() async throws {
        var router = HTTPRouter()
        router.add("GET", "/thing") { _ in .json("{\"a\":1}") }
        let routes = router
        try await withServer(handler: { await routes.handle($0) }) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("HEAD /thing HTTP/1.1\r\n\(host)\r\n")
            let head = try await client.readResponse(head: true)
            #expect(head.status == 200)
            #expect(head.headers["Content-Length"] == "7")
            #expect(head.headers["Content-Type"] == "application/json")
            // Had a body been sent, it would be read here as the next status line.
            try await client.send("GET /thing HTTP/1.1\r\n\(host)\r\n")
            #expect(try await client.readResponse().text == "{\"a\":1}")
        }
    }

    // MARK: - Request bodies

    @Test func expect100_IsAnsweredWithContinueBeforeTheBodyIsSent() async throws {
        try await withServer(handler: { HTTPResponse(status: 200, body: .bytes($0.body)) }) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("POST /e HTTP/1.1\r\n\(host)Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            #expect(try await client.readResponse().status == 100)
            try await client.send("hello")
            #expect(try await client.readResponse().text == "hello")
        }
    }

    @Test func expect100_IsAnswered413_WhenTheDeclaredBodyIsTooLarge() async throws {
        try await withServer({ $0.maxBodyBytes = 10 }, handler: echoPath) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("POST /e HTTP/1.1\r\n\(host)Content-Length: 11\r\nExpect: 100-continue\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 413)
            #expect(response.headers["Content-Type"] == "application/problem+json")
            #expect(try await client.isClosedByServer())
        }
    }

    @Test func chunkedRequestBody_IsDecodedForTheHandler() async throws {
        try await withServer(handler: { HTTPResponse(status: 200, body: .bytes($0.body)) }) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("POST /c HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            try await client.send("6;ext=1\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n")
            #expect(try await client.readResponse().text == "hello world")
        }
    }

    // MARK: - Streamed responses

    @Test func stream_SendsEachWriteAsAChunkAsItComes() async throws {
        let secondMayGo = Gate()
        try await withServer(handler: { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: .stream { writer in
                try await writer.write(Array("first".utf8))
                await secondMayGo.wait()
                try await writer.write(Array("second".utf8))
            })
        }) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET /s HTTP/1.1\r\n\(host)\r\n")
            let head = try await client.readHead()
            #expect(head.headers["Transfer-Encoding"] == "chunked")
            #expect(head.headers["Content-Length"] == nil)
            // The first chunk arrives while the handler still waits: it was flushed, not buffered.
            #expect(try await client.readChunk() == Array("first".utf8))
            secondMayGo.fire()
            #expect(try await client.readChunk() == Array("second".utf8))
            #expect(try await client.readChunk() == nil)
            // The connection stays usable after the last chunk.
            try await client.send("GET /s2 HTTP/1.1\r\n\(host)\r\n")
            #expect(try await client.readResponse().text == "firstsecond")
        }
    }

    @Test func stream_IsCloseDelimited_ForHTTP10() async throws {
        try await withServer(handler: { _ in
            HTTPResponse(status: 200, body: .stream { try await $0.write(Array("a".utf8)); try await $0.write(Array("b".utf8)) })
        }) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let head = try await client.readHead()
            #expect(head.headers["Transfer-Encoding"] == nil)
            #expect(head.headers["Connection"] == "close")
            #expect(try await client.readToEnd() == Array("ab".utf8))
        }
    }

    @Test func clientClose_CancelsTheRunningHandler_AndStreamWritesThrow() async throws {
        let handlerStarted = Gate()
        let handlerCancelled = Gate()
        let writeFailed = Gate()
        try await withServer(handler: { request in
            if request.path == "/stream" {
                return HTTPResponse(status: 200, body: .stream { writer in
                    do {
                        while true {
                            try await writer.write(Array("tick".utf8))
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    } catch {
                        writeFailed.fire()
                        throw error
                    }
                })
            }
            handlerStarted.fire()
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(30)) }
            handlerCancelled.fire()
            return HTTPResponse(status: 200)
        }) { port in
            let poller = try await RawClient.connect(port: port)
            try await poller.send("GET /poll HTTP/1.1\r\n\(host)\r\n")
            await handlerStarted.wait()
            poller.shutdownWrite()
            await handlerCancelled.wait()

            let follower = try await RawClient.connect(port: port)
            try await follower.send("GET /stream HTTP/1.1\r\n\(host)\r\n")
            _ = try await follower.readHead()
            _ = try await follower.readChunk()
            follower.shutdownWrite()
            await writeFailed.wait()
        }
    }

    @Test func slowHandler_DoesNotBlockOtherConnections() async throws {
        let release = Gate()
        try await withServer(handler: { request in
            if request.path == "/slow" { await release.wait() }
            return await echoPath(request)
        }) { port in
            let slow = try await RawClient.connect(port: port)
            try await slow.send("GET /slow HTTP/1.1\r\n\(host)\r\n")
            let fast = try await RawClient.connect(port: port)
            try await fast.send("GET /fast HTTP/1.1\r\n\(host)\r\n")
            #expect(try await fast.readResponse().text == "/fast")
            release.fire()
            #expect(try await slow.readResponse().text == "/slow")
        }
    }

    // MARK: - Errors the server answers itself

    @Test(arguments: [
        "GARBAGE\r\n\r\n",
        "GET /a/../b HTTP/1.1\r\n\(host)\r\n",
        "GET /a%00 HTTP/1.1\r\n\(host)\r\n",
        "POST / HTTP/1.1\r\n\(host)Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
    ])
    func malformedRequest_IsAnswered400ProblemAndClosed(request: String) async throws {
        try await withServer(handler: echoPath) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send(request)
            let response = try await client.readResponse()
            #expect(response.status == 400)
            #expect(response.headers["Content-Type"] == "application/problem+json")
            #expect(response.headers["Connection"] == "close")
            #expect(response.text.contains("\"status\":400"))
            #expect(try await client.isClosedByServer())
        }
    }

    @Test func oversizedHeaders_AreAnswered431() async throws {
        try await withServer({ $0.maxHeaderBytes = 1024 }, handler: echoPath) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET / HTTP/1.1\r\n\(host)X-Big: \(String(repeating: "b", count: 2048))\r\n\r\n")
            #expect(try await client.readResponse().status == 431)
        }
    }

    @Test func oversizedBody_IsAnswered413_BeforeItIsSent() async throws {
        try await withServer({ $0.maxBodyBytes = 100 }, handler: echoPath) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("POST / HTTP/1.1\r\n\(host)Content-Length: 101\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 413)
            #expect(response.text.contains("application/problem+json") || response.headers["Content-Type"] == "application/problem+json")
        }
    }

    @Test func slowHeaders_AreAnswered408() async throws {
        try await withServer({ $0.headerTimeout = .milliseconds(300) }, handler: echoPath) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET / HTTP/1.1\r\nHo")
            let response = try await client.readResponse()
            #expect(response.status == 408)
            #expect(response.headers["Content-Type"] == "application/problem+json")
            #expect(try await client.isClosedByServer())
        }
    }

    @Test func idleKeepAliveConnection_IsClosedWithoutAnswer() async throws {
        try await withServer({ $0.idleTimeout = .milliseconds(300) }, handler: echoPath) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET / HTTP/1.1\r\n\(host)\r\n")
            #expect(try await client.readResponse().status == 200)
            #expect(try await client.readToEnd().isEmpty)
        }
    }

    @Test func connectionsBeyondTheLimit_Get503AndAreClosed() async throws {
        let opened = Gate()
        try await withServer({ $0.maxConnections = 1 }, observer: .init(connectionOpened: { opened.fire() }), handler: echoPath) { port in
            let first = try await RawClient.connect(port: port)
            try await first.send("GET / HTTP/1.1\r\n\(host)\r\n")
            #expect(try await first.readResponse().status == 200)
            await opened.wait()
            let second = try await RawClient.connect(port: port)
            let response = try await second.readResponse()
            #expect(response.status == 503)
            #expect(response.headers["Content-Type"] == "application/problem+json")
            #expect(try await second.isClosedByServer())
            // The admitted connection is unaffected.
            try await first.send("GET /again HTTP/1.1\r\n\(host)\r\n")
            #expect(try await first.readResponse().text == "/again")
        }
    }

    // MARK: - Lifecycle

    @Test func listen_ServesIPv6() async throws {
        try await withServer({ $0.host = "::1" }, handler: echoPath) { port in
            let client = try await RawClient.connect(port: port, ipv6: true)
            try await client.send("GET /six HTTP/1.1\r\n\(host)\r\n")
            #expect(try await client.readResponse().text == "/six")
        }
    }

    @Test func observer_SeesConnectionsAndEveryResponse_IncludingTheServersOwnErrors() async throws {
        let seen = Recorder()
        let observer = HTTPServerObserver(connectionOpened: { seen.append("open") }, connectionClosed: { seen.append("closed") },
                                          requestCompleted: { method, path, status, _ in seen.append("\(method) \(path ?? "nil") \(status)") })
        try await withServer(observer: observer, handler: echoPath) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET /ok HTTP/1.1\r\n\(host)\r\nBROKEN\r\n\r\n")
            #expect(try await client.readResponse().status == 200)
            #expect(try await client.readResponse().status == 400)
            #expect(try await client.isClosedByServer())
        }
        #expect(seen.values == ["open", "GET /ok 200", "UNKNOWN nil 400", "closed"])
    }

    @Test func accept_GivesNonBlockingCloseOnExecSockets_SoSpawnedJobsNeverInheritThem() async throws {
        let listener = try ListeningSocket.open(host: "127.0.0.1", port: 0, backlog: 8)
        defer { Syscall.close(listener.fd) }
        let client = try await RawClient.connect(port: listener.port)
        var accepted: Int32? = nil
        for _ in 0..<1000 where accepted == nil {
            accepted = try Syscall.accept(listener.fd)
            if accepted == nil { try await Task.sleep(for: .milliseconds(5)) }
        }
        let fd = try #require(accepted)
        defer { Syscall.close(fd) }
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
        #expect(fcntl(fd, F_GETFL) & O_NONBLOCK != 0)
        _ = client
    }

    @Test func run_Throws_WhenTheAddressIsInvalid() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.host = "not-an-address"
        let server = HTTPServer(configuration: configuration, logger: quietLogger) { _ in .init(status: 200) }
        await #expect(throws: HTTPServerError.invalidAddress(host: "not-an-address", port: 8080)) { try await server.run() }
    }

    @Test func run_Throws_WhenThePortIsTaken() async throws {
        try await withServer(handler: echoPath) { port in
            var configuration = HTTPServerConfiguration()
            configuration.port = port
            let second = HTTPServer(configuration: configuration, logger: quietLogger) { _ in .init(status: 200) }
            await #expect(throws: HTTPServerError.self) { try await second.run() }
            await #expect(throws: HTTPServerError.self) { _ = try await second.waitUntilListening() }
        }
    }

    @Test func stop_ClosesTheListener_AndLetsTheInFlightRequestFinishWithConnectionClose() async throws {
        let entered = Gate()
        let release = Gate()
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        configuration.shutdownGracePeriod = .seconds(30)
        let server = HTTPServer(configuration: configuration, logger: quietLogger) { request in
            entered.fire()
            await release.wait()
            return await echoPath(request)
        }
        let run = Task { try await server.run() }
        defer { release.fire(); run.cancel() }
        let port = try await server.waitUntilListening()
        let client = try await RawClient.connect(port: port)
        try await client.send("GET /inflight HTTP/1.1\r\n\(host)\r\n")
        await entered.wait()
        run.cancel()
        // The listener goes away while the request is still in flight.
        var refused = false
        for _ in 0..<500 where !refused {
            do { _ = try await RawClient.connect(port: port); try await Task.sleep(for: .milliseconds(10)) } catch { refused = true }
        }
        #expect(refused)
        release.fire()
        let response = try await client.readResponse()
        #expect(response.text == "/inflight")
        #expect(response.headers["Connection"] == "close")
        try await run.value
    }

    @Test func stop_CancelsHandlersThatOutliveTheGracePeriod() async throws {
        let entered = Gate()
        let cancelled = Gate()
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        configuration.shutdownGracePeriod = .milliseconds(100)
        let server = HTTPServer(configuration: configuration, logger: quietLogger) { _ in
            entered.fire()
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(30)) }
            cancelled.fire()
            return HTTPResponse(status: 200)
        }
        let run = Task { try await server.run() }
        defer { run.cancel() }
        let client = try await RawClient.connect(port: try await server.waitUntilListening())
        try await client.send("GET / HTTP/1.1\r\n\(host)\r\n")
        await entered.wait()
        run.cancel()
        try await run.value
        await cancelled.wait()
        #expect(try await client.isClosedByServer())
    }
}
