import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// Orchestration state held across a `kill -9` of jobsd and a restart on the same data dir.
@Suite struct OrchestrationRestartTests {
    @Test func aScheduledJob_SurvivesARestart_AndStartsAtItsTime() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-orch")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try await JobsdProcess.start(dataDirectory: data)
        let job = try await first.client().submit(JobSpec(command: ["true"], delaySeconds: 5))
        await first.signal(SIGKILL)

        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        let restarted = try await second.client().job(job.id)
        #expect(restarted.runAt == job.runAt)
        let done = try await second.client().wait(job.id, timeout: 30)
        #expect(done.state == .succeeded)
        #expect(try #require(done.startedAt) >= (try #require(job.runAt)))
    }

    @Test func aJobInItsBackoff_SurvivesARestart_AndRunsItsNextAttempt() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-orch")
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try await JobsdProcess.start(dataDirectory: data)
        defer { first.child.signal(SIGKILL) }  // also when the test fails before the kill below
        // The change stream tells the moment the job is back in the queue (no polling race with
        // the backoff on a loaded machine).
        let changes = try await first.client().changes()
        let job = try await first.client().submit(JobSpec(
            command: Scripts.countedRun(scratch + "/n", succeedOn: 2), retry: RetryPolicy(maxAttempts: 3, backoffSeconds: 8)))
        var waiting: Job?
        for try await change in changes where change.job.id == job.id && change.job.attempt == 2 {
            waiting = change.job
            break
        }
        let requeued = try #require(waiting)
        #expect(requeued.state == .queued)
        await first.signal(SIGKILL)

        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        let done = try await second.client().wait(job.id, timeout: 30)
        #expect(done.state == .succeeded && done.attempt == 2)
        #expect(done.attempts.map(\.state) == [.failed, .succeeded])
        #expect(try #require(done.startedAt) >= (try #require(requeued.runAt)), "the backoff still held after the restart")
    }

    @Test func anAttemptInterruptedByACrash_IsAFailedAttempt_AndIsRetried() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-orch")
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try await JobsdProcess.start(dataDirectory: data)
        let job = try await first.client().submit(JobSpec(
            command: ["sh", "-c", "n=$(cat \(scratch)/n 2>/dev/null || echo 0); echo $((n+1)) > \(scratch)/n; [ $n -ge 1 ] && exit 0; echo ready; exec sleep 300"],
            cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE >> \(scratch)/cleanup"]),
            retry: RetryPolicy(maxAttempts: 2, backoffSeconds: 0, on: [.failed])))
        try await first.client().waitForOutput(job.id, "ready")
        await first.signal(SIGKILL)

        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        let done = try await second.client().wait(job.id, timeout: 60)
        #expect(done.state == .succeeded && done.attempt == 2)
        #expect(done.attempts.first?.state == .failed)
        #expect(done.attempts.first?.error == "interrupted: the server stopped while this job ran")
        #expect(lines(scratch + "/cleanup") == ["failed", "succeeded"])
        #expect(processesAlive(markedWith: job.id).isEmpty)
        // The timeline: the crash is `interrupted`, then the retry as for any failed attempt.
        let types = try await second.client().events(job.id).map(\.type.rawValue)
        let interrupted = try #require(types.firstIndex(of: "interrupted"))
        #expect(Array(types[..<interrupted]) == ["submitted", "started"])
        #expect(Array(types[interrupted...]).filter { $0 != "signal_sent" } == [
            "interrupted", "cleanup_started", "cleanup_finished", "retry_scheduled", "scheduled", "started", "exited",
            "cleanup_started", "cleanup_finished", "finished",
        ])
    }

    @Test func aHalfFinishedGroup_FinishesAfterARestart_AndItsFailureStillCancelsTheOthers() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-orch")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try await JobsdProcess.start(dataDirectory: data)
        let group = try await first.client().submitGroup(GroupSpec(jobs: [
            JobSpec(command: ["true"]), JobSpec(command: ["sh", "-c", "echo ready; exec sleep 300"]), JobSpec(command: ["true"], delaySeconds: 600),
        ]))
        #expect(try await first.client().wait(group.jobs[0], timeout: 30).state == .succeeded)
        try await first.client().waitForOutput(group.jobs[1], "ready")
        await first.signal(SIGKILL)

        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        let done = try await second.client().waitGroup(group.id, timeout: 60)
        #expect(done.state == .failed, "the interrupted job failed")
        #expect(done.counts[.succeeded] == 1 && done.counts[.failed] == 1 && done.counts[.cancelled] == 1)
        #expect(try await second.client().job(group.jobs[2]).error == "cancelled: job \(group.jobs[1]) of its group failed")
    }

    @Test func jobsWaitingOnAKey_KeepTheirOrderAndLimitAcrossARestart() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-orch")
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let order = scratch + "/order"
        let first = try await JobsdProcess.start(dataDirectory: data)
        let blocker = try await first.client().submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 300"], concurrencyKey: "k"))
        try await first.client().waitForOutput(blocker.id, "ready")
        let b = try await first.client().submit(JobSpec(command: Scripts.blockUntil(scratch + "/go", name: "b", log: order), concurrencyKey: "k"))
        let c = try await first.client().submit(JobSpec(command: Scripts.record("c", to: order), concurrencyKey: "k"))
        await first.signal(SIGKILL)

        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        let client = second.client()
        try await client.waitForOutput(b.id, "ready")
        #expect(try await client.job(c.id).state == .queued, "the key's limit holds after the restart")
        touch(scratch + "/go")
        #expect(try await client.wait(c.id, timeout: 30).state == .succeeded)
        #expect(lines(order) == ["b", "c"])
        #expect(try await client.job(blocker.id).state == .failed)
    }
}
