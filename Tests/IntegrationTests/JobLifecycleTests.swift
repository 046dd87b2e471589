import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// Every state of the contract, end to end through a real jobsd and libcurl.
@Suite struct JobLifecycleTests {
    @Test func submit_Answers201WithLocation_AndTheJobSucceedsWithItsOutput() async throws {
        try await TestServer.with { server in
            let response = try await server.send("POST", "/v1/jobs", body: #"{"command":["sh","-c","echo out; echo err >&2"],"name":"n","labels":{"team":"data"}}"#)
            #expect(response.status == 201)
            let job = try decodeJob(response)
            #expect(response.header("Location") == "/v1/jobs/\(job.id)")
            #expect(job.name == "n" && job.labels == ["team": "data"])
            #expect(job.cleanup.state == .none)
            let done = try await server.client().wait(job.id, timeout: 60)
            #expect(done.state == .succeeded)
            #expect(done.exitCode == 0 && done.signal == nil && done.error == nil)
            #expect(done.pid != nil && done.startedAt != nil && done.finishedAt != nil)
            let client = server.client()
            #expect(try await client.logs(job.id, stream: .stdout).text == "out\n")
            #expect(try await client.logs(job.id, stream: .stderr).text == "err\n")
            let all = try await client.logs(job.id)
            #expect(all.text.count == 8 && all.text.contains("out\n") && all.text.contains("err\n"))
            #expect(done.logBytes == 8)
            #expect(processesAlive(markedWith: job.id).isEmpty)
        }
    }

    @Test func aNonZeroExit_Fails_WithTheExitCodeAndNoError() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(command: ["sh", "-c", "exit 3"]))
            let done = try await server.client().wait(job.id)
            #expect(done.state == .failed)
            #expect(done.exitCode == 3 && done.error == nil && done.signal == nil)
        }
    }

    @Test func anUnknownCommand_Fails_WithAnError_AndStillRunsItsCleanup() async throws {
        let scratch = try scratchDirectory()
        try await TestServer.with { server in
            let cleanup = CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE > \(scratch)/state"])
            let job = try await server.submit(JobSpec(command: ["jobsd-no-such-command"], cleanup: cleanup))
            #expect(job.cleanup.state == .pending)
            let done = try await server.client().wait(job.id)
            #expect(done.state == .failed)
            #expect(done.exitCode == nil)
            #expect(done.error == "command not found: jobsd-no-such-command")
            #expect(done.cleanup.state == .done && done.cleanup.exitCode == 0)
            #expect(try String(contentsOfFile: "\(scratch)/state", encoding: .utf8) == "failed\n")
        }
    }

    @Test func aJobPastItsDeadline_TimesOut_KeepsItsPartialOutput_AndRunsCleanupWithItsState() async throws {
        let scratch = try scratchDirectory()
        try await TestServer.with { server in
            let spec = JobSpec(
                command: ["sh", "-c", "trap 'echo got TERM; exit 1' TERM; echo started; while true; do sleep 0.05; done"],
                timeoutSeconds: 0.5, graceSeconds: 5,
                cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE > \(scratch)/state"]))
            let job = try await server.submit(spec)
            let done = try await server.client().wait(job.id)
            #expect(done.state == .timedOut)
            #expect(done.cleanup.state == .done)
            let text = try await server.client().logs(job.id).text
            #expect(text.contains("started") && text.contains("got TERM"))
            #expect(try String(contentsOfFile: "\(scratch)/state", encoding: .utf8) == "timed_out\n")
            #expect(processesAlive(markedWith: job.id).isEmpty)
        }
    }

    @Test func deleteOfARunningJob_Answers202Cancelling_ThenItEndsCancelled_AndDeleteIsIdempotent() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(command: ["sh", "-c", "echo ready; sleep 60 & sleep 60"], graceSeconds: 5))
            try await server.waitForOutput(job.id, containing: "ready")
            let first = try await server.send("DELETE", "/v1/jobs/\(job.id)")
            #expect(first.status == 202)
            let cancelling = try decodeJob(first)
            #expect(cancelling.state == .cancelling || cancelling.state == .cancelled)
            #expect(cancelling.cancelRequestedAt != nil)
            let done = try await server.client().wait(job.id)
            #expect(done.state == .cancelled)
            #expect(done.finishedAt != nil)
            let again = try await server.send("DELETE", "/v1/jobs/\(job.id)")
            #expect(again.status == 200)
            #expect(try decodeJob(again).state == .cancelled)
            #expect(processesAlive(markedWith: job.id).isEmpty)
        }
    }

    @Test func deleteWithWait_AnswersWhenTheJobIsCancelled() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 60"]))
            try await server.waitForOutput(job.id, containing: "ready")
            let response = try await server.send("DELETE", "/v1/jobs/\(job.id)?wait=30&grace=0.2")
            #expect(response.status == 200)
            #expect(try decodeJob(response).state == .cancelled)
        }
    }

    @Test func deleteOfAQueuedJob_Answers200Cancelled_AndItNeverRuns() async throws {
        try await TestServer.with({ $0.engine.maxRunning = 1 }) { server in
            let blocker = try await server.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 60"]))
            try await server.waitForOutput(blocker.id, containing: "ready")
            let queued = try await server.submit(JobSpec(command: ["true"], cleanup: CleanupSpec(command: ["true"])))
            #expect(queued.state == .queued)
            #expect(queued.cleanup.state == .pending)
            let response = try await server.send("DELETE", "/v1/jobs/\(queued.id)")
            #expect(response.status == 200)
            let cancelled = try decodeJob(response)
            #expect(cancelled.state == .cancelled)
            #expect(cancelled.startedAt == nil && cancelled.pid == nil)
            #expect(cancelled.cleanup.state == .none)
            #expect(try await server.send("DELETE", "/v1/jobs/\(queued.id)").status == 200)
            _ = try await server.client().cancel(blocker.id, grace: 0)
        }
    }

    @Test func deleteOfAFinishedJob_Is409NamingItsState_AndOfAnUnknownJob404() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(command: ["true"]))
            _ = try await server.client().wait(job.id)
            let conflict = try await server.send("DELETE", "/v1/jobs/\(job.id)")
            #expect(conflict.status == 409)
            #expect(conflict.header("Content-Type")?.hasPrefix("application/problem+json") == true)
            #expect(try decodeProblem(conflict).state == .succeeded)
            let missing = try await server.send("DELETE", "/v1/jobs/01JDQ6W6X7Z8K9M0N1P2Q3R4S5")
            #expect(missing.status == 404)
            #expect(try decodeProblem(missing).status == 404)
            #expect(try await server.send("GET", "/v1/jobs/not-an-id").status == 404)
        }
    }

    @Test func aLongPoll_ReturnsAsSoonAsTheJobIsTerminal() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(command: ["sh", "-c", "sleep 0.3"]))
            let start = ContinuousClock.now
            let response = try await server.send("GET", "/v1/jobs/\(job.id)?wait=60")
            #expect(response.status == 200)
            #expect(try decodeJob(response).state == .succeeded)
            #expect(ContinuousClock.now - start < .seconds(45))
        }
    }

    @Test func aLongPoll_OnAJobThatKeepsRunning_AnswersWithItsStateAfterTheWait() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 60"]))
            try await server.waitForOutput(job.id, containing: "ready")
            let response = try await server.send("GET", "/v1/jobs/\(job.id)?wait=0.2")
            #expect(response.status == 200)
            #expect(try decodeJob(response).state == .running)
            _ = try await server.client().cancel(job.id, grace: 0)
        }
    }

    @Test func followingLogs_DeliversOutputBeforeTheJobEnds_AndEndsWhenItIsTerminal() async throws {
        let scratch = try scratchDirectory()
        try await TestServer.with { server in
            // The job cannot end before the test has seen "first": it waits for a file the test creates.
            let job = try await server.submit(JobSpec(
                command: ["sh", "-c", "echo first; while [ ! -e \(scratch)/go ]; do sleep 0.02; done; echo second"]))
            var seen = ""
            for try await chunk in server.client().followLogs(job.id) {
                seen += String(decoding: chunk, as: UTF8.self)
                if seen == "first\n" { _ = FileManager.default.createFile(atPath: "\(scratch)/go", contents: nil) }
            }
            #expect(seen == "first\nsecond\n")
            #expect(try await server.client().job(job.id).state == .succeeded)
        }
    }

    @Test func head_AnswersLikeGetWithoutABody() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(command: ["true"]))
            let get = try await server.send("GET", "/v1/jobs/\(job.id)")
            let head = try await server.send("HEAD", "/v1/jobs/\(job.id)")
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(head.header("Content-Length") != nil)
            #expect(head.header("Content-Type") == get.header("Content-Type"))
            #expect(try await server.send("HEAD", "/v1/jobs/01JDQ6W6X7Z8K9M0N1P2Q3R4S5").status == 404)
        }
    }
}

/// The per-job output cap (`--max-log-bytes`) as a client sees it.
@Suite struct LogCapTests {
    @Test func outputPastTheCap_DropsTheOldestBytes_AndSaysSoInAHeader() async throws {
        try await TestServer.with({ $0.engine.maxLogBytes = 10 }) { server in
            let job = try await server.submit(JobSpec(command: ["sh", "-c", "printf 0123456789; printf abcdefghij"]))
            let done = try await server.client().wait(job.id)
            #expect(done.state == .succeeded)
            let response = try await server.send("GET", "/v1/jobs/\(job.id)/logs")
            #expect(response.header("Jobsd-Log-Truncated") == "true")
            #expect(response.text == "abcdefghij")
            #expect(done.logBytes == 10)
            let small = try await server.submit(JobSpec(command: ["printf", "short"]))
            _ = try await server.client().wait(small.id)
            let untruncated = try await server.send("GET", "/v1/jobs/\(small.id)/logs")
            #expect(untruncated.header("Jobsd-Log-Truncated") == nil)
            #expect(untruncated.text == "short")
        }
    }
}
