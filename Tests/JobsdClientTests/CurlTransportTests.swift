import Dispatch
import Foundation
import JobsdClient
import Testing

@Suite(.timeLimit(.minutes(1)))
struct CurlTransportTests {
    @Test func send_RoundTripsMethodPathHeadersAndBody_WithTheBearerToken() async throws {
        let server = try ScriptedHTTPServer { request, connection in
            let echo = "\(request.method) \(request.target) x-test=\(request.header("X-Test") ?? "-") auth=\(request.header("Authorization") ?? "-") body="
            connection.respond(status: 201, reason: "Created", headers: [("X-Reply", "yes")], body: Array(echo.utf8) + request.body)
        }
        defer { server.stop() }
        let transport = CurlTransport(baseURL: server.baseURL + "/", token: "s3cret")

        let body: [UInt8] = Array("{\"a\":1}".utf8) + [0, 255]
        let response = try await transport.send(ClientRequest(method: "PUT", path: "/echo?q=1", headers: [("X-Test", "42")], body: body))

        #expect(response.status == 201)
        #expect(response.header("x-reply") == "yes")
        #expect(response.header("CONTENT-LENGTH") != nil)
        #expect(response.body == Array("PUT /echo?q=1 x-test=42 auth=Bearer s3cret body=".utf8) + body)
    }

    @Test func send_ReusesOneConnection_ForSequentialCalls() async throws {
        let server = try ScriptedHTTPServer { _, connection in connection.respond(status: 200, body: Array("ok".utf8)) }
        defer { server.stop() }
        let transport = CurlTransport(baseURL: server.baseURL)

        for _ in 0..<3 {
            #expect(try await transport.send(ClientRequest(path: "/")).status == 200)
        }

        #expect(server.acceptedConnections == 1)
    }

    @Test func send_HEAD_ReturnsWithoutReadingABody() async throws {
        let server = try ScriptedHTTPServer { request, connection in
            // A HEAD answer announces the GET body's length but sends none (RFC 9110 §9.3.2).
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Method: \(request.method)\r\n\r\n")
        }
        defer { server.stop() }
        let transport = CurlTransport(baseURL: server.baseURL, timeout: 20)

        let response = try await transport.send(ClientRequest(method: "HEAD", path: "/v1/jobs/x"))

        #expect(response.status == 200)
        #expect(response.header("X-Method") == "HEAD")
        #expect(response.body.isEmpty)
    }

    @Test func send_LargeBody_UsesCurlsExpectContinue_UnlessTheCallerRemovesIt() async throws {
        let server = try ScriptedHTTPServer { request, connection in
            connection.respond(status: 200, headers: [("X-Expect", request.header("Expect") ?? "none")], body: request.body)
        }
        defer { server.stop() }
        let transport = CurlTransport(baseURL: server.baseURL)
        // Over curl's threshold for `Expect: 100-continue` (1 MiB in curl 7.88).
        let body = (0..<1_200_000).map { UInt8(truncatingIfNeeded: $0) }

        let withExpect = try await transport.send(ClientRequest(method: "POST", path: "/", body: body))
        let withoutExpect = try await transport.send(ClientRequest(method: "POST", path: "/", headers: [("Expect", "")], body: body))

        #expect(withExpect.header("X-Expect") == "100-continue")
        #expect(withExpect.body == body)
        #expect(withoutExpect.header("X-Expect") == "none")
        #expect(withoutExpect.body == body)
    }

    @Test func send_ThrowsConnectionError_WhenNothingListens() async throws {
        let (holder, port) = try #require(refusingPort())
        defer { close(holder) }
        let transport = CurlTransport(baseURL: "http://127.0.0.1:\(port)")

        do {
            _ = try await transport.send(ClientRequest(path: "/"))
            Issue.record("expected a connection error")
        } catch {
            guard case let .connection(text) = error else { Issue.record("unexpected \(error)"); return }
            #expect(text == "Connection refused")
        }
    }

    @Test func send_CancellingTheTask_AbortsTheRequestInFlight() async throws {
        let (events, recorder) = AsyncStream<String>.makeStream()
        let server = try ScriptedHTTPServer { _, connection in
            // Never answers, like a long-poll; reports whether the client hung up.
            recorder.yield("received")
            recorder.yield(connection.waitForPeerClose(seconds: 30) ? "closed" : "still open")
        }
        defer { server.stop() }
        let transport = CurlTransport(baseURL: server.baseURL)

        let call = Task { try await transport.send(ClientRequest(path: "/v1/jobs/x?wait=60")) }
        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next() == "received")
        call.cancel()

        #expect(await iterator.next() == "closed")
        await #expect {
            _ = try await call.value
        } throws: { error in
            if case .cancelled = error as? ClientError { true } else { false }
        }
    }

    // MARK: - Streaming

    @Test func stream_DeliversAChunk_BeforeTheResponseEnds() async throws {
        let release = DispatchSemaphore(value: 0)
        let server = try ScriptedHTTPServer { _, connection in
            connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Stream: 1\r\n\r\n5\r\nfirst\r\n")
            // Held until the client saw "first" (the wait only bounds a failing run).
            _ = release.wait(timeout: .now() + 30)
            connection.write("6\r\nsecond\r\n0\r\n\r\n")
        }
        defer { server.stop() }
        let transport = CurlTransport(baseURL: server.baseURL)

        let response = try await transport.stream(ClientRequest(path: "/follow"))
        var chunks = response.body.makeAsyncIterator()
        let first = try await chunks.next()
        release.signal()
        var rest: [UInt8] = []
        while let chunk = try await chunks.next() { rest += chunk }

        #expect(response.status == 200)
        #expect(response.header("x-stream") == "1")
        #expect(first == Array("first".utf8))
        #expect(rest == Array("second".utf8))
    }

    @Test func stream_CancellingTheConsumer_AbortsTheTransfer() async throws {
        let (events, recorder) = AsyncStream<Bool>.makeStream()
        let server = try ScriptedHTTPServer { _, connection in
            connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            recorder.yield(connection.waitForPeerClose(seconds: 30))
        }
        defer { server.stop() }
        let transport = CurlTransport(baseURL: server.baseURL)
        let response = try await transport.stream(ClientRequest(path: "/follow"))
        let (received, receivedFirst) = AsyncStream<Void>.makeStream()

        let consumer = Task {
            var count = 0
            for try await _ in response.body {
                count += 1
                receivedFirst.yield()
            }
            return count
        }
        for await _ in received { break }
        consumer.cancel()

        var peerClosed = false
        for await closed in events { peerClosed = closed; break }
        #expect(peerClosed, "the server should see the client close the connection")
        #expect(try await consumer.value == 1)
    }

    @Test func stream_ThrowsConnectionError_WhenNothingListens() async throws {
        let (holder, port) = try #require(refusingPort())
        defer { close(holder) }
        let transport = CurlTransport(baseURL: "http://127.0.0.1:\(port)")

        await #expect(throws: ClientError.self) { _ = try await transport.stream(ClientRequest(path: "/")) }
    }
}

/// A socket bound to a loopback port that never listens: the port stays taken while the socket
/// is open, and connecting to it is refused.
func refusingPort() -> (fd: Int32, port: UInt16)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard let port = ScriptedHTTPServer.bindLoopback(fd) else { close(fd); return nil }
    return (fd, port)
}
