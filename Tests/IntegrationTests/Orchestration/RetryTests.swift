import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// `retry` (CONTRACT.md, "Orchestration: Retries").
@Suite struct RetryTests {
    @Test func aFailingJob_IsRetriedUpToMaxAttempts_UnderOneID_WithCleanupAfterEveryAttempt() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let job = try await client.submit(JobSpec(
                command: Scripts.countedRun(scratch + "/n"),
                cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE >> \(scratch)/cleanup"]),
                retry: RetryPolicy(maxAttempts: 3, backoffSeconds: 0.05)))
            #expect(job.attempt == 1 && job.maxAttempts == 3 && job.attempts.isEmpty)
            #expect(job.retry == RetryPolicy(maxAttempts: 3, backoffSeconds: 0.05, on: [.failed, .timedOut]))
            let done = try await client.wait(job.id, timeout: 60)
            #expect(done.state == .failed && done.exitCode == 3)
            #expect(done.attempt == 3 && done.maxAttempts == 3)
            #expect(done.attempts.map(\.attempt) == [1, 2, 3])
            #expect(done.attempts.allSatisfy { $0.state == .failed && $0.exitCode == 3 && $0.error == nil })
            #expect(done.startedAt == done.attempts.last?.startedAt, "started_at is that of the latest attempt")
            #expect(done.finishedAt == done.attempts.last?.finishedAt)
            #expect(lines(scratch + "/cleanup") == ["failed", "failed", "failed"], "cleanup after every attempt, each seeing failed")
            let first = try #require(done.attempts[0].finishedAt), second = try #require(done.attempts[1].startedAt)
            #expect(first.seconds(until: second) >= 0.05, "the backoff separates the attempts")
            // Each attempt has its own log; the default is the latest.
            #expect(try await client.logs(job.id).text == "out-3\n")
            #expect(try await client.logs(job.id, attempt: 1).text == "out-1\n")
            #expect(try await client.logs(job.id, attempt: 2).text == "out-2\n")
            let beyond = try await server.send("GET", "/v1/jobs/\(job.id)/logs?attempt=4")
            #expect(beyond.status == 404)
        }
    }

    @Test func aJobThatSucceedsOnALaterAttempt_EndsSucceeded_WithEveryAttemptListed() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let job = try await client.submit(JobSpec(
                command: Scripts.countedRun(scratch + "/n", succeedOn: 2), retry: RetryPolicy(maxAttempts: 5, backoffSeconds: 0)))
            let done = try await client.wait(job.id, timeout: 60)
            #expect(done.state == .succeeded && done.exitCode == 0)
            #expect(done.attempt == 2)
            #expect(done.attempts.map(\.state) == [.failed, .succeeded])
        }
    }

    @Test func retryOn_ChoosesTheOutcomesThatAreRetried() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let failing = try await client.submit(JobSpec(
                command: Scripts.countedRun(scratch + "/failing"), retry: RetryPolicy(maxAttempts: 3, backoffSeconds: 0, on: [.timedOut])))
            let timingOut = try await client.submit(JobSpec(
                command: ["sleep", "30"], timeoutSeconds: 0.3, graceSeconds: 0,
                cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE >> \(scratch)/cleanup"]),
                retry: RetryPolicy(maxAttempts: 2, backoffSeconds: 0)))
            let failed = try await client.wait(failing.id, timeout: 60)
            #expect(failed.state == .failed && failed.attempt == 1 && failed.attempts.count == 1, "failed is not in on")
            let timedOut = try await client.wait(timingOut.id, timeout: 60)
            #expect(timedOut.state == .timedOut && timedOut.attempt == 2)
            #expect(timedOut.attempts.map(\.state) == [.timedOut, .timedOut])
            #expect(lines(scratch + "/cleanup") == ["timed_out", "timed_out"])
        }
    }

    @Test func duringItsBackoff_TheJobIsQueuedWithRunAt_AndADeleteCancelsIt() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let job = try await client.submit(JobSpec(
                command: Scripts.countedRun(scratch + "/n"), cleanup: CleanupSpec(command: ["true"]),
                retry: RetryPolicy(maxAttempts: 3, backoffSeconds: 600)))
            let waiting = try await client.job(job.id, until: { $0.attempt == 2 })
            #expect(waiting.state == .queued)
            let runAt = try #require(waiting.runAt)
            let ended = try #require(waiting.attempts.first?.finishedAt)
            #expect(ended.seconds(until: runAt) >= 599, "backoff counted from the end of the attempt's cleanup")
            #expect(waiting.pid == nil && waiting.exitCode == nil && waiting.signal == nil && waiting.error == nil)
            #expect(waiting.cleanup.state == .none)
            #expect(waiting.attempts.count == 1 && waiting.attempts[0].exitCode == 3 && waiting.attempts[0].state == .failed)
            #expect(try await client.logs(job.id).text == "out-1\n", "during the backoff the latest log is the failed attempt's")

            let response = try await server.send("DELETE", "/v1/jobs/\(job.id)")
            #expect(response.status == 200)
            let cancelled = try decodeJob(response)
            #expect(cancelled.state == .cancelled && cancelled.attempts.count == 1)
            #expect(lines(scratch + "/n") == ["1"], "the retry never ran")
        }
    }

    @Test func aCancelledAttempt_IsNeverRetried() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 300"], retry: RetryPolicy(maxAttempts: 5, backoffSeconds: 0)))
            try await client.waitForOutput(job.id, "ready")
            let cancelled = try await client.cancel(job.id, wait: 30)
            #expect(cancelled.state == .cancelled && cancelled.attempt == 1)
            #expect(cancelled.attempts.map(\.state) == [.cancelled])
        }
    }

    @Test func followingTheLogs_CarriesOnThroughEveryAttempt() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let job = try await client.submit(JobSpec(command: Scripts.countedRun(scratch + "/n"), retry: RetryPolicy(maxAttempts: 3, backoffSeconds: 0.2)))
            var seen = ""
            for try await chunk in client.followLogs(job.id) { seen += String(decoding: chunk, as: UTF8.self) }
            #expect(seen == "out-1\nout-2\nout-3\n")
        }
    }
}
