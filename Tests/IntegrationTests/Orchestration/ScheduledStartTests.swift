import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// `run_at` / `delay_seconds` (CONTRACT.md, "Orchestration: Scheduled start").
@Suite struct ScheduledStartTests {
    @Test func aDelayedJob_StaysQueuedWithItsRunAt_ThenStarts_AndItsDeadlineCountsFromItsStart() async throws {
        try await TestServer.with { server in
            let client = server.client()
            // 10 s for a 0.2 s job leave a loaded machine room (5 s did not, once, in a full
            // parallel run); counted from submission they would end two seconds before its start.
            let job = try await client.submit(JobSpec(command: ["sleep", "0.2"], timeoutSeconds: 10, delaySeconds: 12))
            let runAt = try #require(job.runAt)
            #expect(job.state == .queued)
            #expect(abs(job.createdAt.seconds(until: runAt) - 12) < 0.01)
            let done = try await client.wait(job.id, timeout: 60)
            #expect(done.state == .succeeded, "10 s from submission would have passed before it started; from its start they did not: \(done.json)")
            #expect(try #require(done.startedAt) >= runAt)
        }
    }

    @Test func aJobWithRunAtInThePast_StartsAsSoonAsASlotIsFree() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["true"], runAt: Timestamp(rfc3339: "2020-01-01T00:00:00Z")))
            #expect(job.runAt == Timestamp(rfc3339: "2020-01-01T00:00:00Z"))
            #expect(try await client.wait(job.id, timeout: 30).state == .succeeded)
        }
    }

    @Test func aJobAtAFutureRunAt_WaitsForIt() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let at = Timestamp.now().adding(seconds: 1.5)
            let job = try await client.submit(JobSpec(command: ["true"], runAt: at))
            #expect(job.runAt == at)
            let done = try await client.wait(job.id, timeout: 30)
            #expect(done.state == .succeeded)
            #expect(try #require(done.startedAt) >= at)
        }
    }

    @Test func aScheduledJob_HoldsNoRunningSlot_NorOneOfItsKey() async throws {
        try await TestServer.with { $0.engine.maxRunning = 1 } _: { server in
            let client = server.client()
            let later = try await client.submit(JobSpec(command: ["true"], concurrencyKey: "k", delaySeconds: 600))
            let now = try await client.submit(JobSpec(command: ["true"], concurrencyKey: "k"))
            #expect(try await client.wait(now.id, timeout: 30).state == .succeeded)
            #expect(try await client.job(later.id).state == .queued)
        }
    }

    @Test func aScheduledJob_CanBeCancelledWhileItWaits_AndNeverRuns() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(
                command: ["true"], cleanup: CleanupSpec(command: ["true"]), delaySeconds: 600))
            let response = try await server.send("DELETE", "/v1/jobs/\(job.id)")
            #expect(response.status == 200)
            let cancelled = try decodeJob(response)
            #expect(cancelled.state == .cancelled)
            #expect(cancelled.startedAt == nil && cancelled.pid == nil)
            #expect(cancelled.cleanup.state == .none)
            #expect(cancelled.attempts.isEmpty)
        }
    }
}
