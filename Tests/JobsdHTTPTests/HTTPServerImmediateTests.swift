import Dispatch
import Testing
@testable import JobsdHTTP

private let host = "Host: t\r\n"

/// Counts the requests that reached the Task handler.
private final class Calls: @unchecked Sendable {
    private let lock = Lock()
    // Guarded by `lock`.
    private var paths: [String] = []
    func record(_ path: String) { lock.withLock { paths.append(path) } }
    var recorded: [String] { lock.withLock { paths } }
}

private func text(_ path: String) -> HTTPResponse {
    HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: .bytes(Array(path.utf8)))
}

/// Answers `/fast…` immediately with its path; nil for anything else.
private let fastPaths: HTTPImmediateHandler = { $0.path.hasPrefix("/fast") ? text($0.path) : nil }

/// `/fast…` immediately, `/later…` deferred: answered from another queue after a moment, with a
/// body that says so; nil for anything else.
private let fastAndLaterPaths: HTTPImmediateHandler = { request in
    if request.path.hasPrefix("/later") {
        return HTTPResponse(status: 500, body: .deferred { reply in
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(request.path.hasSuffix("/slow") ? 50 : 0)) {
                reply(text("deferred:" + request.path))
            }
        })
    }
    return fastPaths(request)
}

@Suite struct HTTPServerImmediateTests {
    @Test func aDeferredAnswer_ComesFromAnotherQueueWithoutATask_InOrderWithTheOthers() async throws {
        let calls = Calls()
        try await withServer(immediate: fastAndLaterPaths, handler: { request in
            calls.record(request.path)
            return text("task:" + request.path)
        }) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET /later/1/slow HTTP/1.1\r\n\(host)\r\nGET /fast/2 HTTP/1.1\r\n\(host)\r\nGET /other HTTP/1.1\r\n\(host)\r\n")
            let first = try await client.readResponse()
            #expect(first.status == 200)
            #expect(first.text == "deferred:/later/1/slow")
            #expect(try await client.readResponse().text == "/fast/2")
            #expect(try await client.readResponse().text == "task:/other")
            try await client.send("HEAD /later/3 HTTP/1.1\r\n\(host)\r\n")
            let head = try await client.readResponse(head: true)
            #expect(head.headers["Content-Length"] == "\("deferred:/later/3".utf8.count)")
            #expect(head.text.isEmpty)
            let paths = (0..<200).map { $0 % 3 == 0 ? "/later/\($0)" : "/fast/\($0)" }
            try await client.send(paths.map { "GET \($0) HTTP/1.1\r\n\(host)\r\n" }.joined())
            var answers: [String] = []
            for _ in paths { answers.append(try await client.readResponse().text) }
            #expect(answers == paths.map { $0.hasPrefix("/later") ? "deferred:" + $0 : $0 })
        }
        #expect(calls.recorded == ["/other"])
    }

    @Test func aDeferredBody_FromTheTaskHandler_IsA500_AndTheConnectionGoesOn() async throws {
        try await withServer(immediate: fastPaths, handler: { request in
            request.path == "/misuse" ? HTTPResponse(status: 200, body: .deferred { reply in reply(text("never")) }) : text("task:" + request.path)
        }) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET /misuse HTTP/1.1\r\n\(host)\r\n")
            #expect(try await client.readResponse().status == 500)
            try await client.send("GET /after HTTP/1.1\r\n\(host)\r\n")
            #expect(try await client.readResponse().text == "task:/after")
        }
    }

    @Test func immediateHandler_AnswersWithoutATask_AndNilFallsBackToTheTaskHandler() async throws {
        let calls = Calls()
        try await withServer(immediate: fastPaths, handler: { request in
            calls.record(request.path)
            return text("task:" + request.path)
        }) { port in
            let client = try await RawClient.connect(port: port)
            try await client.send("GET /fast/1 HTTP/1.1\r\n\(host)\r\n")
            #expect(try await client.readResponse().text == "/fast/1")
            try await client.send("HEAD /fast/2 HTTP/1.1\r\n\(host)\r\n")
            let head = try await client.readResponse(head: true)
            #expect(head.headers["Content-Length"] == "7")
            #expect(head.text.isEmpty)
            try await client.send("GET /other HTTP/1.1\r\n\(host)\r\n")
            #expect(try await client.readResponse().text == "task:/other")
        }
        #expect(calls.recorded == ["/other"])
    }

    @Test func pipelinedRequests_MixingImmediateAndTaskAnswers_AreAnsweredInOrder() async throws {
        try await withServer(immediate: fastPaths, handler: { request in
            await Task.yield()
            return text(request.path)
        }) { port in
            let client = try await RawClient.connect(port: port)
            let paths = (0..<300).map { $0 % 7 == 0 ? "/task/\($0)" : "/fast/\($0)" }
            try await client.send(paths.map { "GET \($0) HTTP/1.1\r\n\(host)\r\n" }.joined())
            var answers: [String] = []
            for _ in paths { answers.append(try await client.readResponse().text) }
            #expect(answers == paths)
        }
    }

    @Test func aClientThatReadsLate_StillGetsEveryPipelinedAnswer_InOrder() async throws {
        // 96 answers of 64 KiB: far more than the socket buffers and the server's output limit,
        // so the server must stop starting requests, wait for the client, and resume.
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
        try await withServer(immediate: { request in
            HTTPResponse(status: 200, headers: [("X-Path", request.path)], body: .bytes(big))
        }, handler: { _ in HTTPResponse(status: 500) }) { port in
            let client = try await RawClient.connect(port: port)
            let paths = (0..<96).map { "/big/\($0)" }
            try await client.send(paths.map { "GET \($0) HTTP/1.1\r\n\(host)\r\n" }.joined())
            for path in paths {
                let response = try await client.readResponse()
                #expect(response.headers["X-Path"] == path)
                #expect(response.body.count == big.count)
            }
        }
    }
}
