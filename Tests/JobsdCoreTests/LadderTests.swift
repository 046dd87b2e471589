import Foundation
import JobsdAPI
@testable import JobsdCore
import Testing

extension EngineTests {
    @Test func cancel_KillsALeaderThatIgnoresSIGTERM_AfterGrace() async throws {
        try await EngineHarness.with { h in
            let job = try await h.submit(JobSpec(
                command: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"], graceSeconds: 0.3))
            try await h.waitForOutput(job.id, containing: "ready")
            _ = try await h.engine.cancel(job.id)
            let done = try await h.terminal(job.id)
            #expect(done.state == .cancelled)
            #expect(done.signal == "SIGKILL")
            await h.expectCleanedUp(done)
        }
    }

    @Test func cancel_KillsAGrandchildThatIgnoresSIGTERM() async throws {
        try await EngineHarness.with { h in
            let job = try await h.submit(JobSpec(
                command: ["sh", "-c", "sh -c 'trap \"\" TERM; echo ready; while :; do sleep 0.05; done' & wait"],
                graceSeconds: 0.3))
            try await h.waitForOutput(job.id, containing: "ready")
            _ = try await h.engine.cancel(job.id)
            let done = try await h.terminal(job.id)
            #expect(done.state == .cancelled)
            await h.expectCleanedUp(done)
        }
    }

    @Test func cancel_KillsGrandchildren_WhenTheyLeftTheProcessGroup() async throws {
        try await EngineHarness.with { h in
            let job = try await h.submit(JobSpec(
                command: ["sh", "-c", "setsid sh -c 'echo ready; exec sleep 1000' & wait"], graceSeconds: 0.3))
            try await h.waitForOutput(job.id, containing: "ready")
            _ = try await h.engine.cancel(job.id)
            let done = try await h.terminal(job.id)
            #expect(done.state == .cancelled)
            #expect(h.counter("jobsd_escaped_processes_killed_total") >= 1)
            await h.expectCleanedUp(done)
        }
    }

    @Test func naturalExit_StopsASetsidDescendantLeftBehind() async throws {
        try await EngineHarness.with { h in
            let job = try await h.submit(JobSpec(command: ["sh", "-c", "setsid sleep 1000 >/dev/null 2>&1 & exit 0"], graceSeconds: 0.3))
            let done = try await h.terminal(job.id)
            #expect(done.state == .succeeded)
            #expect(h.counter("jobsd_escaped_processes_killed_total") >= 1)
            await h.expectCleanedUp(done)
        }
    }

    @Test func naturalExit_StopsABackgroundedChildLeftInTheGroup() async throws {
        try await EngineHarness.with { h in
            let job = try await h.submit(JobSpec(command: ["sh", "-c", "sleep 1000 &"], graceSeconds: 0.3))
            let done = try await h.terminal(job.id)
            #expect(done.state == .succeeded)
            #expect(done.exitCode == 0)
            await h.expectCleanedUp(done)
        }
    }

    @Test func cancelDuringCleanup_DoesNotInterruptIt() async throws {
        try await EngineHarness.with { h in
            let started = h.evidence("started"), finished = h.evidence("finished")
            let cleanup = CleanupSpec(command: ["sh", "-c", "echo > '\(started)'; sleep 0.5; echo \"$JOBSD_JOB_STATE\" > '\(finished)'"])
            let job = try await h.submit(JobSpec(command: ["true"], graceSeconds: 0.1, cleanup: cleanup))
            while !FileManager.default.fileExists(atPath: started) { await AsyncCondition.sleep(0.01) }
            guard case let .finished(decided) = try await h.engine.cancel(job.id) else {
                Issue.record("a cancel after the exit must answer finished")
                return
            }
            #expect(decided.state == .succeeded)
            h.engine.shutdown()
            h.engine.shutdown()
            let done = try await h.terminal(job.id)
            #expect(done.state == .succeeded)
            #expect(done.cleanup == CleanupStatus(state: .done, exitCode: 0))
            #expect(h.read(finished) == "succeeded\n")
            await h.expectCleanedUp(done)
        }
    }

    @Test func hangingCleanup_IsStoppedAtItsTimeout_AndTheJobStillEnds() async throws {
        try await EngineHarness.with { h in
            let cleanup = CleanupSpec(command: ["sh", "-c", "sleep 1000 & sleep 1000"], timeoutSeconds: 0.3)
            let job = try await h.submit(JobSpec(command: ["true"], graceSeconds: 0.2, cleanup: cleanup))
            let done = try await h.terminal(job.id)
            #expect(done.state == .succeeded)
            #expect(done.cleanup.state == .timedOut)
            await h.expectCleanedUp(done)
        }
    }

    @Test func doubleCancel_AnswersCancellingBothTimes_ThenCancelled() async throws {
        try await EngineHarness.with { h in
            let job = try await h.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 1000"], graceSeconds: 1))
            try await h.waitForOutput(job.id, containing: "ready")
            guard case .cancelling = try await h.engine.cancel(job.id), case .cancelling = try await h.engine.cancel(job.id) else {
                Issue.record("both cancels should answer cancelling")
                return
            }
            let done = try await h.terminal(job.id)
            #expect(done.state == .cancelled)
            guard case let .cancelled(again) = try await h.engine.cancel(job.id) else {
                Issue.record("a cancel after the end should answer cancelled")
                return
            }
            #expect(again == done)
            await h.expectCleanedUp(done)
        }
    }

    @Test func cancelRacingNaturalExit_GivesOneConsistentAnswer() async throws {
        try await EngineHarness.with { h in
            for _ in 0..<15 {
                let job = try await h.submit(JobSpec(command: ["true"], graceSeconds: 0.2))
                while try await h.engine.job(job.id)?.state == .queued { await AsyncCondition.sleep(0.001) }
                let answer = try await h.engine.cancel(job.id)
                let done = try await h.terminal(job.id)
                switch answer {
                case .cancelling: #expect(done.state == .cancelled)
                case let .finished(decided): #expect(done.state == .succeeded && decided.state == .succeeded)
                case .cancelled: Issue.record("a started job cannot answer cancelled at once")
                }
                await h.expectCleanedUp(done)
            }
        }
    }
}
