import Dispatch
import Foundation
import JobsdAPI
import JobsdTesting
import Testing

/// Connection churn against a real jobsd: for `JOBSD_CHURN_SECONDS` (default 20) several threads
/// open connections as fast as they can; half of them are reset (SO_LINGER {1, 0}) at a random
/// point — mid request line, mid headers, mid body, right after the request, while a large
/// response is written (`/openapi.yaml`, a 1 MiB log), while following a log, during a `?wait`
/// long-poll — while the other half run keep-alive traffic whose every byte is checked. At the
/// end the server still serves, has closed every connection, and runs a new job to `succeeded`.
@Suite struct ChurnTests {
    @Test func churn_WithHalfTheConnectionsReset_NeverCrashesLeaksOrSendsABytetoTheWrongClient() async throws {
        let seconds = Double(ProcessInfo.processInfo.environment["JOBSD_CHURN_SECONDS"] ?? "") ?? 20
        try await TestServer.with { server in
            let client = server.client()
            let big = try await client.submit(JobSpec(command: ["sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' x"]))
            #expect(try await client.wait(big.id).state == .succeeded)
            let ticker = try await client.submit(JobSpec(command: ["sh", "-c", "while :; do echo tick; sleep 0.05; done"]))
            var state = JobState.queued
            for _ in 0..<1000 where state != .running {
                state = try await client.job(ticker.id).state
                if state != .running { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(state == .running)
            let openBefore = try await openConnections(server)
            let openapi = try await server.send("GET", "/openapi.yaml").body
            let fixture = ChurnFixture(port: server.port, bigJob: big.id, tickerJob: ticker.id, openapi: openapi)

            let tally = ChurnTally()
            let deadline = DispatchTime.now() + .milliseconds(Int(seconds * 1000))
            await runDispatchWorkers(count: 6) { worker in
                var random = SystemRandomNumberGenerator()
                while DispatchTime.now() < deadline {
                    let reset = Bool.random(using: &random)
                    do {
                        if reset {
                            try fixture.resetAtARandomPoint(random: &random)
                        } else {
                            try fixture.checkedKeepAlive(random: &random)
                        }
                        tally.count(reset: reset)
                    } catch {
                        tally.fail("worker \(worker) (\(reset ? "reset" : "checked")): \(error)")
                    }
                }
            }
            #expect(tally.failures == [])
            // A sanity floor, not a speed target: the churn ran (20 s gives thousands).
            #expect(tally.connections >= Int(seconds * 10), "only \(tally.connections) connections in \(seconds) s")
            print("churn: \(tally.connections) connections in \(seconds) s, \(tally.resetCount) reset")

            // Alive, and every churn connection closed: as many open as before (this client's
            // kept-alive one and the one asking), once the ticker's end has ended its follows.
            #expect(try await client.cancel(ticker.id, wait: 30).state == .cancelled)
            var open = -1
            for _ in 0..<500 where open != openBefore {
                open = try await openConnections(server)
                if open != openBefore { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(open == openBefore, "connections still open after the churn")
            let fresh = try await client.submit(JobSpec(command: ["true"]))
            #expect(try await client.wait(fresh.id).state == .succeeded)
        }
    }
}

/// `jobsd_http_connections_open` (the asking connection included).
private func openConnections(_ server: TestServer) async throws -> Int {
    let metrics = String(decoding: try await server.send("GET", "/metrics").body, as: UTF8.self)
    let line = metrics.split(separator: "\n").first { $0.hasPrefix("jobsd_http_connections_open ") }
    return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? -1
}

/// What the churn clients ask for and what they expect back.
private struct ChurnFixture: Sendable {
    let port: Int
    let bigJob: String
    let tickerJob: String
    let openapi: [UInt8]
    static let bigLog = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)

    func get(_ path: String) -> String { "GET \(path) HTTP/1.1\r\nHost: churn\r\n\r\n" }

    /// One connection reset at a random point of one of the scenarios.
    func resetAtARandomPoint(random: inout SystemRandomNumberGenerator) throws {
        let connection = try BlockingConnection(port: port)
        defer { connection.reset() }
        switch Int.random(in: 0..<8, using: &random) {
        case 0:  // mid request line
            let line = Array(get("/v1/jobs/\(bigJob)").utf8)
            try connection.send(Array(line.prefix(Int.random(in: 1..<20, using: &random))))
        case 1:  // mid headers
            let request = Array(get("/v1/jobs/\(bigJob)").utf8)
            try connection.send(Array(request.prefix(Int.random(in: 20..<(request.count - 2), using: &random))))
        case 2:  // mid body
            let body = #"{"command":["true"],"name":"never-complete"}"#
            try connection.send("POST /v1/jobs HTTP/1.1\r\nHost: churn\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
            try connection.send(Array(body.utf8.prefix(Int.random(in: 0..<body.utf8.count, using: &random))))
        case 3:  // right after a complete request
            try connection.send(get(Bool.random(using: &random) ? "/openapi.yaml" : "/v1/jobs/\(bigJob)/logs"))
        case 4:  // during /openapi.yaml
            try connection.send(get("/openapi.yaml"))
            try connection.fill(toAtLeast: Int.random(in: 1...openapi.count / 2, using: &random))
            try checkPrefix(connection.buffer, body: openapi)
        case 5:  // during a 1 MiB log
            try connection.send(get("/v1/jobs/\(bigJob)/logs"))
            try connection.fill(toAtLeast: Int.random(in: 1...(1 << 19), using: &random))
            try checkPrefix(connection.buffer, body: Self.bigLog)
        case 6:  // while following a live log
            try connection.send(get("/v1/jobs/\(tickerJob)/logs?follow=true"))
            try connection.fill(toAtLeast: Int.random(in: 1...400, using: &random))
            try checkPrefix(connection.buffer, body: nil)
        default:  // during a ?wait long-poll on a job that keeps running
            try connection.send(get("/v1/jobs/\(tickerJob)?wait=5"))
            _ = connection.waitReadable(milliseconds: Int32.random(in: 0...200, using: &random))
            try checkPrefix(connection.buffer, body: nil)
        }
    }

    /// One keep-alive connection with a few requests, every response read whole and checked.
    func checkedKeepAlive(random: inout SystemRandomNumberGenerator) throws {
        let connection = try BlockingConnection(port: port)
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            switch Int.random(in: 0..<10, using: &random) {
            case 0:
                try connection.send(get("/v1/jobs/\(bigJob)/logs"))
                try expect(try connection.readResponse(), status: 200, body: Self.bigLog)
            case 1, 2:
                try connection.send(get("/openapi.yaml"))
                try expect(try connection.readResponse(), status: 200, body: openapi)
            case 3, 4:
                try connection.send(get("/healthz"))
                try expect(try connection.readResponse(), status: 200, body: nil)
            default:
                try connection.send(get("/v1/jobs/\(bigJob)"))
                let response = try connection.readResponse()
                try expect(response, status: 200, body: nil)
                guard String(decoding: response.body, as: UTF8.self).contains("\"id\":\"\(bigJob)\"") else {
                    throw BlockingConnection.Failure("GET /v1/jobs/\(bigJob) answered another job")
                }
            }
        }
        connection.close()
    }

    private func expect(_ response: BlockingConnection.Response, status: Int, body: [UInt8]?) throws {
        guard response.status == status else { throw BlockingConnection.Failure("status \(response.status), expected \(status)") }
        if let body, response.body != body {
            throw BlockingConnection.Failure("a body of \(response.body.count) bytes that is not the one asked for")
        }
    }

    /// `bytes` must begin a 200 response whose body (when given) begins with `body`'s bytes.
    private func checkPrefix(_ bytes: [UInt8], body: [UInt8]?) throws {
        let statusLine = Array("HTTP/1.1 200 OK\r\n".utf8)
        guard bytes.starts(with: statusLine.prefix(bytes.count)) else {
            throw BlockingConnection.Failure("foreign bytes where the status line should be: \(String(decoding: bytes.prefix(40), as: UTF8.self).debugDescription)")
        }
        guard let body, let headEnd = bytes.firstRange(of: [13, 10, 13, 10]) else { return }
        let received = bytes[headEnd.upperBound...]
        guard received.count <= body.count, received.elementsEqual(body.prefix(received.count)) else {
            throw BlockingConnection.Failure("foreign bytes inside a body")
        }
    }
}

/// Counts connections and collects failures from the worker threads.
private final class ChurnTally: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`.
    private var resets = 0
    private var checked = 0
    private var failed: [String] = []

    func count(reset: Bool) { lock.withLock { if reset { resets += 1 } else { checked += 1 } } }
    func fail(_ failure: String) { lock.withLock { if failed.count < 20 { failed.append(failure) } } }
    var failures: [String] { lock.withLock { failed } }
    var connections: Int { lock.withLock { resets + checked } }
    var resetCount: Int { lock.withLock { resets } }
}
