import Foundation
import JobsdAPI
@testable import JobsdCore
import JobsdStore
import Testing

extension EngineTests {
    @Test func submit_WhenTheQueueIsFull_ThrowsQueueFull() async throws {
        try await EngineHarness.with({ $0.maxRunning = 1; $0.queueLimit = 1 }) { h in
            let running = try await h.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 1000"], graceSeconds: 0.2))
            try await h.waitForOutput(running.id, containing: "ready")
            _ = try await h.submit(JobSpec(command: ["true"]))
            await #expect(throws: EngineError.queueFull(limit: 1)) {
                _ = try await h.engine.submit(JobSpec(command: ["true"]))
            }
            _ = try await h.engine.cancel(running.id)
        }
    }

    @Test func submit_WithTheSameIdempotencyKey_ReturnsTheJob_OrRejectsAnotherBody() async throws {
        try await EngineHarness.with { h in
            let spec = JobSpec(command: ["true"])
            guard case let .created(first) = try await h.engine.submit(spec, idempotencyKey: "k", fingerprint: "a"),
                  case let .existing(second) = try await h.engine.submit(spec, idempotencyKey: "k", fingerprint: "a")
            else {
                Issue.record("expected created then existing")
                return
            }
            #expect(first.id == second.id)
            await #expect(throws: EngineError.idempotencyMismatch(jobID: first.id)) {
                _ = try await h.engine.submit(spec, idempotencyKey: "k", fingerprint: "b")
            }
        }
    }

    @Test func shutdown_CancelsRunningJobsAfterTheDrain_LeavesQueuedJobsQueued_AndLeavesNoChild() async throws {
        let h = try EngineHarness.make { $0.maxRunning = 1; $0.shutdownTimeout = 0.3 }
        let engine = h.engine
        let runner = Task { try await engine.run() }
        await engine.waitUntilReady()
        let running = try await h.submit(JobSpec(
            command: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"], graceSeconds: 0.3))
        try await h.waitForOutput(running.id, containing: "ready")
        let queued = try await h.submit(JobSpec(command: ["true"]))
        engine.shutdown()
        #expect(!engine.isReady)
        await #expect(throws: EngineError.shuttingDown) { _ = try await engine.submit(JobSpec(command: ["true"])) }
        try await runner.value
        let done = try #require(try await h.store.get(running.id)).job
        #expect(done.state == .cancelled)
        #expect(done.signal == "SIGKILL")
        #expect(try await h.store.get(queued.id)?.state == .queued)
        #expect(ProcScan.carriers(of: running.id).isEmpty)
        #expect(await ProcScan.noZombieChildren())
    }

    @Test func cancellingRunsTask_CancelsRunningJobs_AndStillRunsTheirCleanup() async throws {
        let h = try EngineHarness.make { $0.shutdownTimeout = 100 }
        let engine = h.engine
        let runner = Task { try await engine.run() }
        await engine.waitUntilReady()
        let evidence = h.evidence("cleanup")
        let job = try await h.submit(JobSpec(
            command: ["sh", "-c", "echo ready; exec sleep 1000"], graceSeconds: 5,
            cleanup: CleanupSpec(command: ["sh", "-c", "sleep 0.2; echo \"$JOBSD_JOB_STATE\" > '\(evidence)'"])))
        try await h.waitForOutput(job.id, containing: "ready")
        runner.cancel()
        try await runner.value
        let done = try #require(try await h.store.get(job.id)).job
        #expect(done.state == .cancelled)
        #expect(done.cleanup.state == .done)
        #expect(h.read(evidence) == "cancelled\n")
        await h.expectCleanedUp(done)
    }

    @Test func recovery_RequeuesQueuedJobs_FailsRunningOnes_CancelsCancellingOnes_AndKillsLeftovers() async throws {
        let now = Timestamp.now()
        func record(_ id: String, _ state: JobState, _ command: [String], cleanupTo path: String?) -> JobRecord {
            let cleanup = path.map { CleanupSpec(command: ["sh", "-c", "echo \"$JOBSD_JOB_STATE\" > '\($0)'"]) }
            let spec = JobSpec(command: command, timeoutSeconds: 60, graceSeconds: 0.3, cleanup: cleanup)
            return JobRecord(job: Job(
                id: id, command: command, state: state, createdAt: now, startedAt: state == .queued ? nil : now,
                timeoutSeconds: 60, graceSeconds: 0.3, cleanup: CleanupStatus(state: cleanup == nil ? .none : .pending)), spec: spec)
        }
        let runningID = JobIDGenerator.shared.next(), cancellingID = JobIDGenerator.shared.next()
        let queuedID = JobIDGenerator.shared.next()
        var paths: [String: String] = [:]
        var left: Leftover?
        try await EngineHarness.with(store: { store, dir in
            // A leftover of the "previous jobsd" on this data directory.
            let leftover = try await Leftover.start(of: runningID, dataDirectory: dir)
            left = leftover
            paths = [runningID: "\(dir)/running", cancellingID: "\(dir)/cancelling"]
            var running = record(runningID, .running, ["sleep", "1000"], cleanupTo: paths[runningID])
            running.job.pid = leftover.pid
            running.processStartTicks = leftover.startTicks
            _ = try await store.insert(running)
            _ = try await store.insert(record(cancellingID, .cancelling, ["sleep", "1000"], cleanupTo: paths[cancellingID]))
            _ = try await store.insert(record(queuedID, .queued, ["sh", "-c", "echo ran"], cleanupTo: nil))
        }) { h in
            let failed = try await h.terminal(runningID)
            #expect(failed.state == .failed)
            #expect(failed.error == "interrupted: the server stopped while this job ran")
            #expect(h.read(paths[runningID]!) == "failed\n")
            let cancelled = try await h.terminal(cancellingID)
            #expect(cancelled.state == .cancelled)
            #expect(h.read(paths[cancellingID]!) == "cancelled\n")
            let leftoverStatus = await left?.wait()
            #expect(leftoverStatus?.signal == SIGKILL)
            let ran = try await h.terminal(queuedID)
            #expect(ran.state == .succeeded)
            #expect(try await h.output(queuedID) == "ran\n")
            await h.expectCleanedUp(failed)
        }
    }

    @Test func logs_SurviveTheJob_AndAreReadFromDiskAfterwards() async throws {
        try await EngineHarness.with({ $0.maxLogBytes = 8 }) { h in
            let job = try await h.submit(JobSpec(command: ["sh", "-c", "printf 0123456789abcdef"]))
            let done = try await h.terminal(job.id)
            let chunk = try await h.engine.readLogs(job.id, stream: nil, from: nil)
            #expect(String(decoding: chunk.bytes, as: UTF8.self) == "89abcdef")
            #expect(chunk.truncated && chunk.jobTerminal)
            #expect(done.logBytes == 8)
            await #expect(throws: EngineError.notFound("nope")) { _ = try await h.engine.readLogs("nope", stream: nil, from: nil) }
        }
    }
}
