import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// `GET /v1/jobs/{id}/events`: the exact termination timeline of each way a job can end.
@Suite struct TimelineTests {
    /// The events' types and extra fields, and a check of `seq` and `at` on the way.
    private func timeline(_ client: JobsdClient, _ id: String) async throws -> [String] {
        let events = try await client.events(id)
        #expect(events.map(\.seq) == Array(1...max(1, events.count)), "seq starts at 1 and grows by 1")
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.at <= $1.at }, "times never go back")
        return events.map { event in
            ([event.type.rawValue] + event.fields.map { "\($0.name)=\($0.value.canonicalText)" }).joined(separator: " ")
        }
    }

    private func expectTimeline(_ client: JobsdClient, _ id: String, _ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let events = try await timeline(client, id)
        #expect(events == expected, "\(events)", sourceLocation: sourceLocation)
    }

    @Test func aJobThatSucceeds_TellsSubmittedStartedExitedFinished() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["true"]))
            let ended = try await client.wait(job.id)
            try await expectTimeline(client, job.id, ["submitted", "started pid=\(ended.pid ?? -1) attempt=1", "exited exit_code=0", #"finished state="succeeded""#])
            let raw = try await server.send("GET", "/v1/jobs/\(job.id)/events")
            #expect(raw.status == 200)
            #expect(raw.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(raw.text.hasPrefix(#"{"events":[{"seq":1,"at":""#))
            #expect(raw.text.contains(#""at":"\#(job.createdAt)","type":"submitted"}"#), "at is RFC 3339 with three fraction digits")
        }
    }

    @Test func aJobThatFails_TellsItsExitCode() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["sh", "-c", "exit 3"]))
            let ended = try await client.wait(job.id)
            try await expectTimeline(client, job.id, [
                "submitted", "started pid=\(ended.pid ?? -1) attempt=1", "exited exit_code=3", #"finished state="failed""#,
            ])
        }
    }

    @Test func aCommandThatCannotStart_TellsSpawnFailed_ThenItsCleanup() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["no-such-command-jobsd"], cleanup: CleanupSpec(command: ["true"])))
            #expect(try await client.wait(job.id).state == .failed)
            try await expectTimeline(client, job.id, [
                "submitted", #"spawn_failed error="command not found: no-such-command-jobsd""#, #"cleanup_started state="running""#,
                #"cleanup_finished state="done" exit_code=0"#, #"finished state="failed""#,
            ])
        }
    }

    @Test func aTimeout_TellsDeadlineReached_NotCancelRequested() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["sleep", "60"], timeoutSeconds: 0.3))
            let ended = try await client.wait(job.id)
            #expect(ended.state == .timedOut)
            try await expectTimeline(client, job.id, [
                "submitted", "started pid=\(ended.pid ?? -1) attempt=1", "deadline_reached",
                #"signal_sent signal="SIGTERM" target="group" pids=1"#, #"exited signal="SIGTERM""#, #"finished state="timed_out""#,
            ])
        }
    }

    @Test func cancellingAJobThatIgnoresSIGTERM_TellsSIGTERMThenSIGKILL() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["sh", "-c", "trap '' TERM; echo ready; exec sleep 60"], graceSeconds: 0.3))
            try await server.waitForOutput(job.id, containing: "ready")
            #expect(try await client.cancel(job.id).state == .cancelling)
            let ended = try await client.wait(job.id)
            #expect(ended.state == .cancelled)
            try await expectTimeline(client, job.id, [
                "submitted", "started pid=\(ended.pid ?? -1) attempt=1", #"cancel_requested reason="delete""#,
                #"signal_sent signal="SIGTERM" target="group" pids=1"#, #"signal_sent signal="SIGKILL" target="group" pids=1"#,
                #"exited signal="SIGKILL""#, #"finished state="cancelled""#,
            ])
        }
    }

    @Test func cancellingAQueuedJob_TellsCancelRequestedAndFinished_AndNothingRan() async throws {
        try await TestServer.with({ $0.engine.maxRunning = 1 }) { server in
            let client = server.client()
            let blocker = try await client.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 60"]))
            let queued = try await client.submit(JobSpec(command: ["true"]))
            #expect(try await client.cancel(queued.id).state == .cancelled)
            try await expectTimeline(client, queued.id, ["submitted", #"cancel_requested reason="delete""#, #"finished state="cancelled""#])
            _ = try await client.cancel(blocker.id, grace: 0)
        }
    }

    @Test func leftoversOfAJobThatExited_AreToldAfterItsExit() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["sh", "-c", "sleep 60 & echo ready"]))
            let ended = try await client.wait(job.id)
            #expect(ended.state == .succeeded)
            try await expectTimeline(client, job.id, [
                "submitted", "started pid=\(ended.pid ?? -1) attempt=1", "exited exit_code=0",
                #"signal_sent signal="SIGTERM" target="group" pids=1"#, "leftovers_killed count=1", #"finished state="succeeded""#,
            ])
        }
    }

    @Test func whileAJobRuns_ItsTimelineSoFarIsShown() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 60"]))
            try await server.waitForOutput(job.id, containing: "ready")
            let pid = try await client.job(job.id).pid ?? -1
            try await expectTimeline(client, job.id, ["submitted", "started pid=\(pid) attempt=1"])
            _ = try await client.cancel(job.id, grace: 0)
        }
    }

    @Test func anUnknownJob_Is404() async throws {
        try await TestServer.with { server in
            let response = try await server.send("GET", "/v1/jobs/01JDQ6W6X7Z8K9M0N1P2Q3R4S5/events")
            #expect(response.status == 404)
            #expect(response.header("Content-Type") == "application/problem+json")
        }
    }

    @Test func aJobRunningWhenJobsdWasKilled_TellsInterrupted_AfterTheRestart() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-timeline")
        defer { TemporaryDirectory.remove(data) }
        let first = try await JobsdProcess.start(dataDirectory: data)
        let job = try await first.client().submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 300"]))
        try await first.client().waitForOutput(job.id, "ready")
        let pid = try await first.client().job(job.id).pid ?? -1
        await first.signal(SIGKILL)

        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        let client = second.client()
        #expect(try await client.wait(job.id).state == .failed)
        try await expectTimeline(client, job.id, [
            "submitted", "started pid=\(pid) attempt=1", #"interrupted error="interrupted: the server stopped while this job ran""#,
            #"signal_sent signal="SIGTERM" target="group" pids=1"#, #"finished state="failed""#,
        ])
    }
}
