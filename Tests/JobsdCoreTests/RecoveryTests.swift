import Foundation
import JobsdAPI
@testable import JobsdCore
import JobsdStore
import Testing

extension EngineTests {
    /// A record as a previous jobsd left it, for `state` (queued, running or cancelling).
    private func leftRecord(_ id: String, _ state: JobState, _ command: [String], grace: Double, cancelRequestedAt: Timestamp? = nil) -> JobRecord {
        let now = Timestamp.now()
        let spec = JobSpec(command: command, timeoutSeconds: 600, graceSeconds: grace)
        var job = Job(
            id: id, command: command, state: state, createdAt: now, startedAt: state == .queued ? nil : now,
            timeoutSeconds: 600, graceSeconds: grace, cleanup: CleanupStatus(state: .none))
        job.cancelRequestedAt = cancelRequestedAt
        return JobRecord(job: job, spec: spec)
    }

    @Test func recovery_RunsInTheBackground_WhileQueuedJobsRun_AndACancellingJobGetsOnlyWhatIsLeftOfItsGrace() async throws {
        let h = try EngineHarness.make()
        let runningID = JobIDGenerator.shared.next(), cancellingID = JobIDGenerator.shared.next()
        let queuedID = JobIDGenerator.shared.next()
        let stubborn = try await Leftover.start(of: runningID, dataDirectory: h.dataDirectory)
        let cancellingLeftover = try await Leftover.start(of: cancellingID, dataDirectory: h.dataDirectory)
        var running = leftRecord(runningID, .running, ["sleep", "1000"], grace: 300)
        running.job.pid = stubborn.pid
        running.processStartTicks = stubborn.startTicks
        _ = try await h.store.insert(running)
        // Cancelled long ago: its 300 s of grace have passed, so its leftover gets SIGKILL at once.
        _ = try await h.store.insert(leftRecord(
            cancellingID, .cancelling, ["sleep", "1000"], grace: 300, cancelRequestedAt: Timestamp.now().adding(seconds: -1000)))
        _ = try await h.store.insert(leftRecord(queuedID, .queued, ["sh", "-c", "echo ran"], grace: 1))

        let engine = h.engine
        let runner = Task { try await engine.run() }
        // The running job's leftover ignores SIGTERM for 300 s: the engine must not wait for it.
        let ready = await engine.changes.wait(timeout: 20) { engine.isReady }
        #expect(ready, "the engine waited for the recovery of interrupted jobs")
        if ready {
            let ran = try await h.terminal(queuedID)
            #expect(ran.state == .succeeded)
            let during = try #require(try await engine.job(runningID))
            #expect(during.state == .running)
            let answer = try await engine.cancel(runningID)
            guard case let .finished(decided) = answer else {
                Issue.record("a DELETE on a recovering running job answered \(answer)")
                throw EngineHarness.Failure.unexpected
            }
            #expect(decided.state == .failed)
            #expect(decided.error == Outcome.interrupted)

            let cancelled = try await h.terminal(cancellingID)
            #expect(cancelled.state == .cancelled)
            #expect(await cancellingLeftover.wait().signal == SIGKILL)
        }
        stubborn.signal(SIGKILL)
        cancellingLeftover.signal(SIGKILL)
        let failed = try await h.terminal(runningID)
        #expect(failed.state == .failed)
        #expect(failed.error == Outcome.interrupted)
        engine.shutdown()
        engine.shutdown()
        try await runner.value
    }

    @Test func remainingGrace_OfARecoveredCancellingJob_CountsFromTheCancelRequest() {
        let now = Timestamp(milliseconds: 100_000)
        var job = leftRecord("j", .cancelling, ["true"], grace: 10, cancelRequestedAt: Timestamp(milliseconds: 96_000)).job
        #expect(JobEngine.remainingGrace(job, now: now) == 6)
        job.cancelRequestedAt = Timestamp(milliseconds: 1_000)
        #expect(JobEngine.remainingGrace(job, now: now) == 0)
        job.state = .running
        #expect(JobEngine.remainingGrace(job, now: now) == 10)
    }
}
