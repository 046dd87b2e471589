import Foundation
import JobsdAPI
import JobsdClient
import Testing

/// The typed client against a scripted server: paths and queries it sends, answers it decodes.
@Suite(.timeLimit(.minutes(1)))
struct JobsdClientTests {
    /// Records every request target (and body) the server received.
    final class Recorder: @unchecked Sendable {
        // `lock` guards `requests`.
        private let lock = NSLock()
        private var requests: [ScriptedHTTPServer.Request] = []
        func record(_ request: ScriptedHTTPServer.Request) { lock.withLock { requests.append(request) } }
        var all: [ScriptedHTTPServer.Request] { lock.withLock { requests } }
        var targets: [String] { all.map { "\($0.method) \($0.target)" } }
    }

    @Test func job_ThrowsTheServersProblem_WhenTheJobIsUnknown() async throws {
        let server = try ScriptedHTTPServer { request, connection in
            connection.respond(status: 404, reason: "Not Found", json: #"{"type":"about:blank","title":"Not Found","status":404,"detail":"no job abc"}"#)
        }
        defer { server.stop() }
        let client = JobsdClient(baseURL: server.baseURL)

        do {
            _ = try await client.job("abc")
            Issue.record("expected a problem")
        } catch {
            guard case let .problem(problem) = error else { Issue.record("unexpected \(error)"); return }
            #expect(problem.status == 404)
            #expect(problem.detail == "no job abc")
            #expect(error.description == "404 Not Found: no job abc")
        }
    }

    @Test func submit_PostsTheSpecJsonWithTheIdempotencyKey_AndDecodesTheJob() async throws {
        let recorder = Recorder()
        let server = try ScriptedHTTPServer { request, connection in
            recorder.record(request)
            connection.respond(status: 201, reason: "Created", json: Job.make(id: "01A", state: .queued, command: ["echo", "hi"]).json)
        }
        defer { server.stop() }
        let client = JobsdClient(baseURL: server.baseURL, token: "t0k")
        let spec = JobSpec(command: ["echo", "hi"], timeoutSeconds: 30, labels: ["team": "data"])

        let job = try await client.submit(spec, idempotencyKey: "key-1")

        #expect(job.id == "01A")
        #expect(job.state == .queued)
        let request = try #require(recorder.all.first)
        #expect("\(request.method) \(request.target)" == "POST /v1/jobs")
        #expect(request.header("Idempotency-Key") == "key-1")
        #expect(request.header("Authorization") == "Bearer t0k")
        #expect(request.header("Content-Type") == "application/json")
        #expect(String(decoding: request.body, as: UTF8.self) == spec.json)
    }

    @Test func list_FollowsNextCursor_AndDeliversEveryJobOnce() async throws {
        let recorder = Recorder()
        let server = try ScriptedHTTPServer { request, connection in
            recorder.record(request)
            let page = request.target.contains("cursor=c1")
                ? JobList(jobs: [.make(id: "01C")], nextCursor: nil)
                : JobList(jobs: [.make(id: "01E"), .make(id: "01D")], nextCursor: "c1")
            connection.respond(status: 200, json: page.json)
        }
        defer { server.stop() }
        let client = JobsdClient(baseURL: server.baseURL)

        var ids: [String] = []
        for try await job in client.list(states: [.running, .queued], labels: ["team": "data a&b"], pageSize: 2) { ids.append(job.id) }

        #expect(ids == ["01E", "01D", "01C"])
        #expect(recorder.targets == [
            "GET /v1/jobs?state=running&state=queued&label=team:data%20a%26b&limit=2",
            "GET /v1/jobs?state=running&state=queued&label=team:data%20a%26b&limit=2&cursor=c1",
        ])
    }

    @Test func list_StopsAtTheLimit_WithoutFetchingMorePages() async throws {
        let recorder = Recorder()
        let server = try ScriptedHTTPServer { request, connection in
            recorder.record(request)
            connection.respond(status: 200, json: JobList(jobs: [.make(id: "01B"), .make(id: "01A")], nextCursor: "more").json)
        }
        defer { server.stop() }

        var count = 0
        for try await _ in JobsdClient(baseURL: server.baseURL).list(limit: 2) { count += 1 }

        #expect(count == 2)
        #expect(recorder.targets == ["GET /v1/jobs?limit=2"])
    }

    @Test func wait_RepeatsTheLongPoll_UntilTheJobIsTerminal() async throws {
        let recorder = Recorder()
        let server = try ScriptedHTTPServer { request, connection in
            recorder.record(request)
            let job = Job.make(id: "01A", state: recorder.all.count < 2 ? .running : .failed, exitCode: 3)
            connection.respond(status: 200, json: job.json)
        }
        defer { server.stop() }

        let job = try await JobsdClient(baseURL: server.baseURL).wait("01A", timeout: .infinity)

        #expect(job.state == .failed)
        #expect(recorder.targets == ["GET /v1/jobs/01A?wait=60", "GET /v1/jobs/01A?wait=60"])
    }

    @Test func cancel_SendsDeleteWithWaitAndGrace_AndThrowsTheConflict() async throws {
        let recorder = Recorder()
        let server = try ScriptedHTTPServer { request, connection in
            recorder.record(request)
            connection.respond(status: 409, reason: "Conflict", json: #"{"type":"about:blank","title":"Conflict","status":409,"detail":"job 01A already succeeded","state":"succeeded"}"#)
        }
        defer { server.stop() }

        await #expect {
            _ = try await JobsdClient(baseURL: server.baseURL).cancel("01A", grace: 0.5, wait: 5)
        } throws: { error in
            guard case let .problem(problem) = error as? ClientError else { return false }
            return problem.state == .succeeded
        }
        #expect(recorder.targets == ["DELETE /v1/jobs/01A?wait=5&grace=0.5"])
    }

    @Test func logs_ReturnsTheBytes_AndTheTruncatedFlag() async throws {
        let recorder = Recorder()
        let server = try ScriptedHTTPServer { request, connection in
            recorder.record(request)
            connection.respond(status: 200, headers: [("Jobsd-Log-Truncated", "true")], body: [0x61, 0x00, 0xFF])
        }
        defer { server.stop() }

        let logs = try await JobsdClient(baseURL: server.baseURL).logs("01A", stream: .stderr)

        #expect(logs == JobLogs(bytes: [0x61, 0x00, 0xFF], truncated: true))
        #expect(recorder.targets == ["GET /v1/jobs/01A/logs?stream=stderr"])
    }

    @Test func followLogs_YieldsChunksUntilTheResponseEnds() async throws {
        let recorder = Recorder()
        let server = try ScriptedHTTPServer { request, connection in
            recorder.record(request)
            connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n")
        }
        defer { server.stop() }

        var output: [UInt8] = []
        for try await chunk in JobsdClient(baseURL: server.baseURL).followLogs("01A") { output += chunk }

        #expect(String(decoding: output, as: UTF8.self) == "onetwo")
        #expect(recorder.targets == ["GET /v1/jobs/01A/logs?follow=true"])
    }

    @Test func followLogs_ThrowsTheProblem_WhenTheJobIsUnknown() async throws {
        let server = try ScriptedHTTPServer { _, connection in
            connection.respond(status: 404, reason: "Not Found", json: #"{"type":"about:blank","title":"Not Found","status":404,"detail":"no job x"}"#)
        }
        defer { server.stop() }

        await #expect {
            for try await _ in JobsdClient(baseURL: server.baseURL).followLogs("x") {}
        } throws: { error in
            guard case let .problem(problem) = error as? ClientError else { return false }
            return problem.detail == "no job x"
        }
    }
}
