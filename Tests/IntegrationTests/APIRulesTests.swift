import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// Validation, paging, idempotency and HTTP rules of the v1 API.
@Suite struct APIRulesTests {
    static let invalidBodies: [(body: String, field: String)] = [
        (#"{}"#, "command"),
        (#"{"command":[]}"#, "command"),
        (#"{"command":"echo hi"}"#, "command"),
        (#"{"command":[1]}"#, "command"),
        (#"{"command":[""]}"#, "command"),
        (#"{"command":["true"],"env":{"A":1}}"#, "env"),
        (#"{"command":["true"],"env":["A"]}"#, "env"),
        (#"{"command":["true"],"stdin":5}"#, "stdin"),
        (#"{"command":["true"],"timeout_seconds":0}"#, "timeout_seconds"),
        (#"{"command":["true"],"timeout_seconds":-1}"#, "timeout_seconds"),
        (#"{"command":["true"],"timeout_seconds":"10"}"#, "timeout_seconds"),
        (#"{"command":["true"],"timeout_seconds":true}"#, "timeout_seconds"),
        (#"{"command":["true"],"timeout_seconds":86401}"#, "timeout_seconds"),
        (#"{"command":["true"],"grace_seconds":-0.5}"#, "grace_seconds"),
        (#"{"command":["true"],"cleanup":["true"]}"#, "cleanup"),
        (#"{"command":["true"],"cleanup":{}}"#, "cleanup.command"),
        (#"{"command":["true"],"cleanup":{"command":["true"],"timeout_seconds":0}}"#, "cleanup.timeout_seconds"),
        (#"{"command":["true"],"cleanup":{"command":["true"],"extra":1}}"#, "cleanup.extra"),
        (#"{"command":["true"],"name":7}"#, "name"),
        (#"{"command":["true"],"name":"a\u0000b"}"#, "name"),
        (#"{"command":["true"],"labels":{"k":"a\u0000b"}}"#, "labels"),
        (#"{"command":["true"],"labels":{"bad key":"v"}}"#, "labels"),
        (#"{"command":["true"],"labels":{"k":1}}"#, "labels"),
        (#"{"command":["true"],"bogus":1}"#, "bogus"),
    ]

    @Test func everyInvalidField_IsA400ProblemNamingIt_AndCreatesNothing() async throws {
        try await TestServer.with { server in
            for (body, field) in Self.invalidBodies {
                let response = try await server.send("POST", "/v1/jobs", body: body)
                #expect(response.status == 400, "\(body)")
                #expect(response.header("Content-Type")?.hasPrefix("application/problem+json") == true)
                let problem = try decodeProblem(response)
                #expect(problem.field == field, "\(body): \(problem.detail)")
                #expect(problem.detail.contains(field.split(separator: ".").last.map(String.init) ?? field), "\(problem.detail)")
            }
            let longName = String(repeating: "x", count: 201)
            #expect(try await server.send("POST", "/v1/jobs", body: #"{"command":["true"],"name":"\#(longName)"}"#).status == 400)
            for body in ["", "not json", "[1]", #"{"command":["true"]"#] {
                #expect(try await server.send("POST", "/v1/jobs", body: body).status == 400, "\(body)")
            }
            #expect(try await server.client().listPage().jobs.isEmpty)
        }
    }

    @Test func aJSONBody_IsAcceptedWhateverItsContentType() async throws {
        try await TestServer.with { server in
            let response = try await server.send("POST", "/v1/jobs", body: #"{"command":["true"]}"#,
                                                 headers: [("Content-Type", "application/x-www-form-urlencoded")])
            #expect(response.status == 201)
        }
    }

    @Test func aBodyOverOneMebibyte_Is413() async throws {
        try await TestServer.with { server in
            let big = #"{"command":["true"],"stdin":""# + String(repeating: "a", count: 1_100_000) + #""}"#
            let response = try await server.send("POST", "/v1/jobs", body: big)
            #expect(response.status == 413)
            #expect(try await server.client().listPage().jobs.isEmpty)
        }
    }

    @Test func aWrongMethod_Is405WithAllow_AndAnUnknownPath404() async throws {
        try await TestServer.with { server in
            let put = try await server.send("PUT", "/v1/jobs")
            #expect(put.status == 405)
            let allow = put.header("Allow") ?? ""
            #expect(allow.contains("GET") && allow.contains("POST"))
            #expect(try await server.send("POST", "/v1/jobs/01JDQ6W6X7Z8K9M0N1P2Q3R4S5").status == 405)
            let missing = try await server.send("GET", "/v2/nothing")
            #expect(missing.status == 404)
            #expect(missing.header("Content-Type")?.hasPrefix("application/problem+json") == true)
        }
    }

    @Test func outOfRangeQueryValues_Are400NotClamped() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(command: ["true"]))
            for path in ["/v1/jobs?limit=5000", "/v1/jobs?limit=0", "/v1/jobs?limit=x", "/v1/jobs?state=done",
                         "/v1/jobs?label=nocolon", "/v1/jobs?cursor=zzz", "/v1/jobs/\(job.id)?wait=999",
                         "/v1/jobs/\(job.id)?wait=-1", "/v1/jobs/\(job.id)/logs?stream=both", "/v1/jobs/\(job.id)/logs?follow=maybe"] {
                let response = try await server.send("GET", path)
                #expect(response.status == 400, "\(path)")
            }
            #expect(try await server.send("DELETE", "/v1/jobs/\(job.id)?wait=61").status == 400)
        }
    }

    @Test func listing_FiltersByStateAndLabels_AndPagesOverEveryJobExactlyOnce_WhileNewJobsArrive() async throws {
        try await TestServer.with { server in
            let client = server.client()
            var ids: [String] = []
            for i in 0..<23 {
                let job = try await client.submit(JobSpec(command: ["true"], labels: ["team": i % 2 == 0 ? "a" : "b", "n": "\(i)"]))
                ids.append(job.id)
            }
            #expect(ids == ids.sorted(), "ids increase in creation order")
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await client.listPage(limit: 5, cursor: cursor)
                #expect(page.jobs.count <= 5)
                seen += page.jobs.map(\.id)
                cursor = page.nextCursor
                _ = try await client.submit(JobSpec(command: ["true"], labels: ["late": "yes"]))
            } while cursor != nil
            let original = seen.filter { ids.contains($0) }
            #expect(original == ids.reversed(), "newest first, each exactly once")
            #expect(Set(seen).count == seen.count)

            let teamA = try await client.listPage(labels: ["team": "a"], limit: 1000).jobs
            #expect(teamA.count == 12 && teamA.allSatisfy { $0.labels["team"] == "a" })
            let one = try await client.listPage(labels: ["team": "a", "n": "4"]).jobs
            #expect(one.map(\.id) == [ids[4]])
            for id in ids { _ = try await client.wait(id) }
            let succeeded = try await client.listPage(states: [.succeeded], limit: 1000).jobs
            #expect(Set(ids).isSubset(of: Set(succeeded.map(\.id))))
            #expect(try await client.listPage(states: [.failed, .cancelled]).jobs.isEmpty)
        }
    }

    @Test func anIdempotencyKey_ReturnsTheSameJobForTheSameBody_And422ForAnother() async throws {
        try await TestServer.with { server in
            let key = [("Idempotency-Key", "nightly-2026-11-25")]
            let first = try await server.send("POST", "/v1/jobs", body: #"{"command":["true"],"labels":{"a":"1","b":"2"}}"#, headers: key)
            #expect(first.status == 201)
            let again = try await server.send("POST", "/v1/jobs", body: #"{ "labels":{"b":"2","a":"1"}, "command":["true"] }"#, headers: key)
            #expect(again.status == 200)
            #expect(try decodeJob(again).id == decodeJob(first).id)
            let other = try await server.send("POST", "/v1/jobs", body: #"{"command":["false"]}"#, headers: key)
            #expect(other.status == 422)
            #expect(try decodeProblem(other).status == 422)
            let tooLong = [("Idempotency-Key", String(repeating: "k", count: 129))]
            #expect(try await server.send("POST", "/v1/jobs", body: #"{"command":["true"]}"#, headers: tooLong).status == 400)
        }
    }

    /// While the queue is full a POST is refused before its body is read (on the event loop); once
    /// there is room, a malformed body gets its 400 and a retried key its job.
    @Test func aFullQueue_Is429WithRetryAfter_EvenForAMalformedBody_AndAKnownKeyGetsItsJobOnceThereIsRoom() async throws {
        try await TestServer.with({ $0.engine.maxRunning = 1; $0.engine.queueLimit = 1 }) { server in
            let blocker = try await server.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 60"]))
            try await server.waitForOutput(blocker.id, containing: "ready")
            let keyed = [("Idempotency-Key", "the-queued-one")]
            let queued = try await server.send("POST", "/v1/jobs", body: #"{"command":["true"]}"#, headers: keyed)
            #expect(queued.status == 201)
            let full = try await server.send("POST", "/v1/jobs", body: #"{"command":["true"]}"#)
            #expect(full.status == 429)
            #expect(full.header("Retry-After") != nil)
            #expect(try decodeProblem(full).detail.contains("queue is full"))
            #expect(try await server.send("POST", "/v1/jobs", body: #"{"command":"#).status == 429)
            #expect(try await server.send("POST", "/v1/jobs", body: #"{"command":["true"]}"#, headers: keyed).status == 429)
            #expect(try await server.client().listPage().jobs.count == 2)
            _ = try await server.client().cancel(blocker.id)
            let queuedJob = try JSONDecoder().decode(Job.self, from: Data(queued.body))
            #expect(try await server.client().wait(queuedJob.id).state == .succeeded)
            #expect(try await server.send("POST", "/v1/jobs", body: #"{"command":"#).status == 400)
            let again = try await server.send("POST", "/v1/jobs", body: #"{"command":["true"]}"#, headers: keyed)
            #expect(again.status == 200)
            #expect(again.header("Location") == queued.header("Location"))
        }
    }

    /// With a record cache of one, GETs of finished jobs are read from the store on its reader
    /// thread (no Task): each answers its own job, HEAD its head, an unknown id 404.
    @Test func finishedJobsBeyondTheRecordCache_AreReadFromTheStore() async throws {
        try await TestServer.with({ $0.cacheRecords = 1 }) { server in
            var ids: [String] = []
            for n in 0..<4 { ids.append(try await server.submit(JobSpec(command: ["sh", "-c", "exit \(n)"])).id) }
            for id in ids { _ = try await server.client().wait(id) }
            for (n, id) in ids.enumerated().reversed() {
                let response = try await server.send("GET", "/v1/jobs/\(id)")
                #expect(response.status == 200)
                let job = try JSONDecoder().decode(Job.self, from: Data(response.body))
                #expect(job.id == id && job.exitCode == Int32(n) && job.state == (n == 0 ? .succeeded : .failed))
                #expect(try await server.send("HEAD", "/v1/jobs/\(id)").status == 200)
            }
            #expect(try await server.send("GET", "/v1/jobs/01M0000000000000000000000Z").status == 404)
        }
    }

    @Test func stdinAndEnv_ReachTheProcess_WithJobIdAndAPrivateHome() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(
                command: ["sh", "-c", "cat; echo \" $GREETING $JOBSD_JOB_ID\"; pwd; echo $HOME"], env: ["GREETING": "hello"], stdin: "piped"))
            let done = try await server.client().wait(job.id)
            #expect(done.state == .succeeded)
            let lines = try await server.client().logs(job.id).text.split(separator: "\n").map(String.init)
            #expect(lines.first == "piped hello \(job.id)")
            #expect(lines.count == 3 && lines[1] == lines[2] && lines[1].contains(job.id))
            #expect(!FileManager.default.fileExists(atPath: lines[1]), "the workdir is removed")
        }
    }
}

/// Finished jobs, their logs and their idempotency keys go after `--retention`.
@Suite struct RetentionTests {
    @Test func finishedJobs_AreSweptAfterTheRetention_WithTheirLogsAndKeys() async throws {
        // A retention long enough that the job is still there when `wait` reads it on a loaded
        // machine (3 s was not, once, in a full parallel run).
        try await TestServer.with({ $0.engine.retention = 10; $0.engine.sweepInterval = 0.2 }) { server in
            let key = [("Idempotency-Key", "retention-test")]
            let first = try decodeJob(try await server.send("POST", "/v1/jobs", body: #"{"command":["echo","kept"]}"#, headers: key))
            #expect(try await server.client().wait(first.id).state == .succeeded)
            let logs = server.dataDirectory + "/logs/\(first.id)"
            var status = 200
            for _ in 0..<1500 where status == 200 {
                status = try await server.send("GET", "/v1/jobs/\(first.id)").status
                if status == 200 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(status == 404, "the finished job was swept")
            #expect(try await server.send("GET", "/v1/jobs/\(first.id)/logs").status == 404)
            #expect(!FileManager.default.fileExists(atPath: logs))
            let again = try await server.send("POST", "/v1/jobs", body: #"{"command":["echo","kept"]}"#, headers: key)
            #expect(again.status == 201, "the swept job's idempotency key is forgotten")
            #expect(try decodeJob(again).id != first.id)
        }
    }
}
