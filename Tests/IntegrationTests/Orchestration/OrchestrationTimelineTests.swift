import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// The termination timeline and the change stream of orchestrated jobs (CONTRACT.md, "The
/// termination timeline": `scheduled`, `retry_scheduled`, `started.attempt`, `cancel_requested`
/// reason `group`; "The event stream").
@Suite struct OrchestrationTimelineTests {
    /// The events as `type field=value …` lines (seq checked on the way).
    private func timeline(_ client: JobsdClient, _ id: String) async throws -> [String] {
        let events = try await client.events(id)
        #expect(events.map(\.seq) == Array(1...max(1, events.count)), "seq starts at 1 and grows by 1")
        return events.map { event in
            ([event.type.rawValue] + event.fields.map { "\($0.name)=\($0.value.canonicalText)" }).joined(separator: " ")
        }
    }

    private func quoted(_ time: Timestamp) -> String { "\"\(time)\"" }

    @Test func aDelayedJob_TellsScheduledWithItsRunAt_ThenStarted() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["true"], delaySeconds: 0.3))
            let runAt = try #require(job.runAt)
            let done = try await client.wait(job.id, timeout: 30)
            #expect(done.state == .succeeded)
            #expect(try await timeline(client, job.id) == [
                "submitted", "scheduled run_at=\(quoted(runAt))", "started pid=\(done.pid ?? -1) attempt=1", "exited exit_code=0",
                #"finished state="succeeded""#,
            ])
            let events = try await client.events(job.id)
            #expect(events[1].at == job.createdAt, "scheduled when it was submitted")
        }
    }

    @Test func aJobWithRunAtInThePast_TellsNoScheduled() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["true"], runAt: Timestamp(rfc3339: "2020-01-01T00:00:00Z")))
            let done = try await client.wait(job.id, timeout: 30)
            #expect(try await timeline(client, job.id) == [
                "submitted", "started pid=\(done.pid ?? -1) attempt=1", "exited exit_code=0", #"finished state="succeeded""#,
            ])
        }
    }

    @Test func aScheduledJobCancelledWhileItWaits_TellsCancelRequestedDelete_AndFinishedCancelled() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["true"], delaySeconds: 600))
            let runAt = try #require(job.runAt)
            #expect(try await client.cancel(job.id).state == .cancelled)
            #expect(try await timeline(client, job.id) == [
                "submitted", "scheduled run_at=\(quoted(runAt))", #"cancel_requested reason="delete""#, #"finished state="cancelled""#,
            ])
        }
    }

    @Test func aRetriedJob_TellsEachAttempt_WithRetryScheduledThenScheduled_BothWithTheSameRunAt() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let job = try await client.submit(JobSpec(
                command: Scripts.countedRun(scratch + "/n", succeedOn: 3), cleanup: CleanupSpec(command: ["true"]),
                retry: RetryPolicy(maxAttempts: 3, backoffSeconds: 0.05)))
            let done = try await client.wait(job.id, timeout: 60)
            #expect(done.state == .succeeded && done.attempt == 3)
            let events = try await client.events(job.id)
            let runAts = events.filter { $0.type == .retryScheduled }.map { $0["run_at"]?.canonicalText ?? "" }
            #expect(runAts.count == 2)
            let cleanup = [#"cleanup_started state="running""#, #"cleanup_finished state="done" exit_code=0"#]
            func attempt(_ n: Int, exit: Int) -> [String] { ["started pid=* attempt=\(n)", "exited exit_code=\(exit)"] + cleanup }
            var expected = ["submitted"]
            expected += attempt(1, exit: 3) + ["retry_scheduled attempt=2 run_at=\(runAts.first ?? "")", "scheduled run_at=\(runAts.first ?? "")"]
            expected += attempt(2, exit: 3) + ["retry_scheduled attempt=3 run_at=\(runAts.last ?? "")", "scheduled run_at=\(runAts.last ?? "")"]
            expected += attempt(3, exit: 0) + [#"finished state="succeeded""#]
            let lines = try await timeline(client, job.id).map { $0.replacing(/pid=\d+/, with: "pid=*") }
            #expect(lines == expected)
            // The backoff counts from the end of the failed attempt's cleanup.
            for (i, scheduled) in events.enumerated() where scheduled.type == .retryScheduled {
                #expect(events[i - 1].type == .cleanupFinished && events[i - 1].at <= scheduled.at)
            }
        }
    }

    @Test func aRetriedJob_OnTheChangeStream_GoesBackToQueued_BetweenItsAttempts() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let gate = scratch + "/go"
            let job = try await client.submit(JobSpec(
                command: ["sh", "-c", "while [ ! -e \(gate) ]; do sleep 0.02; done; exit 3"], retry: RetryPolicy(maxAttempts: 2, backoffSeconds: 0)))
            let changes = try await client.changes(jobs: [job.id])
            touch(gate)
            var seen: [(JobState, Job)] = []
            for try await change in changes {
                seen.append((change.job.state, change.job))
                if change.job.state.isTerminal { break }
            }
            let states = seen.map(\.0)
            // The first `running` may have been before the subscription answered.
            #expect(Array(states.drop { $0 != .queued }) == [.queued, .running, .failed] || states == [.running, .queued, .running, .failed])
            let requeued = try #require(seen.first { $0.0 == .queued }?.1)
            #expect(requeued.attempt == 2 && requeued.attempts.count == 1 && requeued.runAt != nil && requeued.pid == nil)
            let last = try #require(seen.last?.1)
            #expect(last.attempt == 2 && last.attempts.map(\.state) == [.failed, .failed])
        }
    }

    @Test func failFast_TheSiblingsTellCancelRequestedGroup_AndTheGroupsDeleteTellsDelete() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let group = try await client.submitGroup(GroupSpec(jobs: [
                JobSpec(command: ["sh", "-c", "echo ready; exec sleep 300"]),
                JobSpec(command: ["true"], delaySeconds: 600),
                JobSpec(command: ["sh", "-c", "while [ ! -e \(scratch)/fail ]; do sleep 0.02; done; exit 1"]),
            ]))
            let (running, scheduled, failing) = (group.jobs[0], group.jobs[1], group.jobs[2])
            try await client.waitForOutput(running, "ready")
            touch(scratch + "/fail")
            #expect(try await client.waitGroup(group.id, timeout: 30).state == .failed)
            let runAt = try #require(try await client.job(scheduled).runAt)
            let error = "cancelled: job \(failing) of its group failed"
            #expect(try await client.job(scheduled).error == error)
            #expect(try await client.job(running).error == error)
            #expect(try await timeline(client, scheduled) == [
                "submitted", "scheduled run_at=\(quoted(runAt))", #"cancel_requested reason="group""#, #"finished state="cancelled""#,
            ])
            let ran = try await client.job(running)
            #expect(try await timeline(client, running) == [
                "submitted", "started pid=\(ran.pid ?? -1) attempt=1", #"cancel_requested reason="group""#,
                #"signal_sent signal="SIGTERM" target="group" pids=1"#, #"exited signal="SIGTERM""#, #"finished state="cancelled""#,
            ])

            let deleted = try await client.submitGroup(GroupSpec(jobs: [JobSpec(command: ["true"], delaySeconds: 600)]))
            #expect(try await client.cancelGroup(deleted.id, wait: 30).state == .cancelled)
            let only = try #require(deleted.jobs.first)
            let onlyRunAt = try #require(try await client.job(only).runAt)
            #expect(try await timeline(client, only) == [
                "submitted", "scheduled run_at=\(quoted(onlyRunAt))", #"cancel_requested reason="delete""#, #"finished state="cancelled""#,
            ])
        }
    }

    @Test func aGroupsJobs_AreEachOnTheChangeStream_AsQueued() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let changes = try await client.changes(states: [.queued])
            let group = try await client.submitGroup(GroupSpec(labels: ["g": "1"], jobs: [
                JobSpec(command: ["true"], delaySeconds: 600), JobSpec(command: ["true"], delaySeconds: 600),
            ]))
            var ids: [String] = []
            for try await change in changes {
                ids.append(change.job.id)
                #expect(change.event == "job.queued" && change.job.groupID == group.id && change.job.runAt != nil)
                if ids.count == 2 { break }
            }
            #expect(Set(ids) == Set(group.jobs))
            _ = try await client.cancelGroup(group.id, wait: 30)
        }
    }
}
