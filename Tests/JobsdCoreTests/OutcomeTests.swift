import Foundation
import JobsdAPI
@testable import JobsdCore
import Testing

/// Engine tests with real processes. Serialized: they check that no zombie child of this test
/// process is left, which other tests' processes would disturb.
@Suite(.serialized) struct EngineTests {}

extension EngineTests {
    static func cleanupWriting(_ path: String) -> CleanupSpec {
        CleanupSpec(command: ["sh", "-c", "echo \"$JOBSD_JOB_STATE $JOBSD_JOB_ID\" > '\(path)'"])
    }

    @Test func succeeded_StoresExitCodeOutputAndRunsCleanup() async throws {
        try await EngineHarness.with { h in
            let evidence = h.evidence("cleanup")
            let job = try await h.submit(JobSpec(
                command: ["sh", "-c", "echo out; echo err >&2; pwd; echo \"$HOME $MY_VAR\""],
                env: ["MY_VAR": "x"], cleanup: Self.cleanupWriting(evidence)))
            let done = try await h.terminal(job.id)
            #expect(done.state == .succeeded)
            #expect(done.exitCode == 0)
            #expect(done.signal == nil && done.error == nil)
            #expect(done.cleanup == CleanupStatus(state: .done, exitCode: 0))
            #expect(h.read(evidence) == "succeeded \(job.id)\n")
            #expect(try await h.output(job.id, .stdout) == "out\n\(h.workdir(job.id))\n\(h.workdir(job.id)) x\n")
            #expect(try await h.output(job.id, .stderr) == "err\n")
            #expect(done.logBytes > 0)
            let stored = try #require(try await h.store.get(job.id))
            #expect(stored.job == done)
            await h.expectCleanedUp(done)
        }
    }

    @Test func failed_KeepsTheExitCode_WithoutAnError() async throws {
        try await EngineHarness.with { h in
            let evidence = h.evidence("cleanup")
            let job = try await h.submit(JobSpec(command: ["sh", "-c", "exit 3"], cleanup: Self.cleanupWriting(evidence)))
            let done = try await h.terminal(job.id)
            #expect(done.state == .failed)
            #expect(done.exitCode == 3)
            #expect(done.error == nil)
            #expect(h.read(evidence) == "failed \(job.id)\n")
            await h.expectCleanedUp(done)
        }
    }

    @Test func stdin_IsWrittenToTheProcess() async throws {
        try await EngineHarness.with { h in
            let job = try await h.submit(JobSpec(command: ["cat"], stdin: "hello stdin"))
            let done = try await h.terminal(job.id)
            #expect(done.state == .succeeded)
            #expect(try await h.output(job.id) == "hello stdin")
        }
    }

    @Test func commandNotFound_FailsWithThatError_AndStillRunsCleanup() async throws {
        try await EngineHarness.with { h in
            let evidence = h.evidence("cleanup")
            let job = try await h.submit(JobSpec(command: ["no-such-command-jobsd"], cleanup: Self.cleanupWriting(evidence)))
            let done = try await h.terminal(job.id)
            #expect(done.state == .failed)
            #expect(done.error == "command not found: no-such-command-jobsd")
            #expect(done.exitCode == nil)
            #expect(done.cleanup.state == .done)
            #expect(h.read(evidence) == "failed \(job.id)\n")
            await h.expectCleanedUp(done)
        }
    }

    @Test func timeout_EndsTimedOut_AfterSIGTERM_AndRunsCleanup() async throws {
        try await EngineHarness.with { h in
            let evidence = h.evidence("cleanup")
            let job = try await h.submit(JobSpec(
                command: ["sleep", "1000"], timeoutSeconds: 0.3, graceSeconds: 5, cleanup: Self.cleanupWriting(evidence)))
            let done = try await h.terminal(job.id)
            #expect(done.state == .timedOut)
            #expect(done.signal == "SIGTERM")
            #expect(done.error == "timed out after 0.3 s; stopped with SIGTERM", "signal + null error would mean a signal jobsd did not send")
            #expect(h.read(evidence) == "timed_out \(job.id)\n")
            await h.expectCleanedUp(done)
        }
    }

    @Test func timeout_KeepsPartialOutput_IncludingWhatTheTrapPrinted() async throws {
        try await EngineHarness.with { h in
            let job = try await h.submit(JobSpec(
                command: ["sh", "-c", "trap 'echo got TERM; exit 1' TERM; echo started; while :; do sleep 0.05; done"],
                timeoutSeconds: 0.5, graceSeconds: 5))
            let done = try await h.terminal(job.id)
            #expect(done.state == .timedOut)
            #expect(done.exitCode == 1)
            let output = try await h.output(job.id)
            #expect(output.hasPrefix("started\n"))
            #expect(output.contains("got TERM"))
            await h.expectCleanedUp(done)
        }
    }

    @Test func cancel_OfARunningJob_EndsCancelled_AfterCleanup() async throws {
        try await EngineHarness.with { h in
            let evidence = h.evidence("cleanup")
            let job = try await h.submit(JobSpec(
                command: ["sh", "-c", "echo ready; exec sleep 1000"], graceSeconds: 5, cleanup: Self.cleanupWriting(evidence)))
            try await h.waitForOutput(job.id, containing: "ready")
            guard case let .cancelling(cancelling) = try await h.engine.cancel(job.id) else {
                Issue.record("expected cancelling")
                return
            }
            #expect(cancelling.state == .cancelling)
            #expect(cancelling.cancelRequestedAt != nil)
            let done = try await h.terminal(job.id)
            #expect(done.state == .cancelled)
            #expect(done.signal == "SIGTERM")
            #expect(done.error == "cancelled; stopped with SIGTERM")
            #expect(done.cleanup.state == .done)
            #expect(h.read(evidence) == "cancelled \(job.id)\n")
            let latencies = try h.metrics.expectTimer("jobsd_cancel_latency_seconds").values
            #expect(latencies.count == 1 && latencies.allSatisfy { $0 > 0 }, "nanoseconds: \(latencies)")
            await h.expectCleanedUp(done)
        }
    }

    @Test func cancel_OfAQueuedJob_CancelsAtOnce_AndItNeverRuns() async throws {
        try await EngineHarness.with({ $0.maxRunning = 1 }) { h in
            let evidence = h.evidence("cleanup")
            let blocker = try await h.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 1000"], graceSeconds: 0.2))
            try await h.waitForOutput(blocker.id, containing: "ready")
            let queued = try await h.submit(JobSpec(command: ["sh", "-c", "echo ran"], cleanup: Self.cleanupWriting(evidence)))
            guard case let .cancelled(cancelled) = try await h.engine.cancel(queued.id) else {
                Issue.record("expected cancelled")
                return
            }
            #expect(cancelled.state == .cancelled)
            #expect(cancelled.cleanup.state == .none)
            #expect(try await h.store.get(queued.id)?.state == .cancelled)
            _ = try await h.engine.cancel(blocker.id)
            _ = try await h.terminal(blocker.id)
            let done = try #require(try await h.engine.job(queued.id))
            #expect(done.state == .cancelled && done.startedAt == nil && done.pid == nil)
            #expect(h.read(evidence) == nil)
            guard case .cancelled = try await h.engine.cancel(queued.id) else {
                Issue.record("a second cancel should answer cancelled again")
                return
            }
            await h.expectCleanedUp(done)
        }
    }
}

extension EngineTests {
    static func openFileDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    @Test func finishedJobs_LeaveNoFileDescriptorOpen() async throws {
        try await EngineHarness.with { h in
            _ = try await h.terminal(try await h.submit(JobSpec(command: ["sh", "-c", "echo warm-up"])).id)
            let before = Self.openFileDescriptors()
            for _ in 0..<10 {
                let job = try await h.submit(JobSpec(command: ["sh", "-c", "echo out; echo err >&2"], stdin: "in"))
                _ = try await h.terminal(job.id)
            }
            var after = Self.openFileDescriptors()
            for _ in 0..<100 where after > before {
                await AsyncCondition.sleep(0.02)
                after = Self.openFileDescriptors()
            }
            #expect(after <= before)
        }
    }
}
