import Foundation
import JobsdAPI
@testable import JobsdCore
import Testing

@Suite struct JobIDTests {
    @Test func ids_AreStrictlyIncreasing_WithinOneMillisecond() {
        let generator = JobIDGenerator()
        let ids = (0..<1000).map { _ in generator.next(now: 1_700_000_000_000) }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.count == 26 && $0.allSatisfy { "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains($0) } })
        #expect(generator.next(now: 1_700_000_000_001) > ids.last!)
    }

    @Test func encode_PutsTheTimeInTheFirstTenCharacters() {
        #expect(JobIDGenerator.encode(time: 0, random: (0, 0)) == String(repeating: "0", count: 26))
        #expect(JobIDGenerator.encode(time: 1, random: (0, 1)) == "0000000001" + "000000000000000" + "1")
        #expect(JobIDGenerator.encode(time: 0, random: (0xFFFF, .max)) == "0000000000" + String(repeating: "Z", count: 16))
    }
}

@Suite struct JobStateTests {
    @Test func transitions_FollowTheContract_AndTerminalStatesAreFinal() {
        let allowed: Set<[JobState]> = [
            [.queued, .running], [.queued, .cancelled], [.running, .cancelling], [.running, .succeeded],
            [.running, .failed], [.running, .timedOut], [.cancelling, .cancelled],
        ]
        for from in JobState.allCases {
            for to in JobState.allCases {
                #expect(from.canMove(to: to) == allowed.contains([from, to]), "\(from) → \(to)")
            }
        }
        var job = Job(id: "x", command: ["true"], state: .succeeded, createdAt: .now(), timeoutSeconds: 1, graceSeconds: 1, cleanup: .init(state: .none))
        #expect(throws: IllegalTransition.self) { try job.move(to: .failed) }
        #expect(job.state == .succeeded)
    }
}

extension EngineTests {
    @Test func childProcess_IsReapedByTheSharedReaper_WithItsStatus() async throws {
        let child = try ChildProcess.spawn(argv: ["sh", "-c", "exit 7"])
        #expect(await child.wait().exitCode == 7)
        let sleeper = try ChildProcess.spawn(argv: ["sleep", "1000"])
        sleeper.signal(SIGTERM)
        #expect(await sleeper.wait().signalName == "SIGTERM")
        #expect(await ProcScan.noZombieChildren())
    }

    @Test func aStopRequest_SendsSIGTERMToTheMainProcesssGroupAtOnce_BeforeAnyLadderRuns() async throws {
        let watch = ProcessWatch()
        let path = try JobEnvironment.resolve("sleep", path: JobEnvironment.basePATH)
        let (pid, _) = try Reaper.shared.spawn(
            path: path, argv: ["sleep", "1000"], env: [], cwd: nil, stdin: 0, stdout: 1, stderr: 2, onExit: watch.exited)
        watch.stopsGroup(pid)
        watch.requestStop(grace: 30)
        var snapshot = watch.snapshot
        let deadline = ContinuousClock.now + .seconds(10)
        while snapshot.status == nil, ContinuousClock.now < deadline {
            await watch.wait(after: snapshot.generation, timeout: 1)
            snapshot = watch.snapshot
        }
        if snapshot.status == nil { kill(pid, SIGKILL) }
        #expect(snapshot.status?.signalName == "SIGTERM")
        #expect(watch.terminateGroupOnce(pid), "the group counts as signalled: the ladder must not send SIGTERM again")
    }

    @Test func aThreadThatSpawns_LeavesSIGCHLDUnblocked_SoTheKernelDropsItInsteadOfWakingAnotherThread() async throws {
        let (blockedBefore, blockedAfter, child) = try await withCheckedThrowingContinuation {
            (c: CheckedContinuation<(Bool, Bool, ChildProcess), any Error>) in
            let thread = Thread {
                func sigchldBlocked() -> Bool {
                    var mask = sigset_t()
                    pthread_sigmask(SIG_BLOCK, nil, &mask)
                    return sigismember(&mask, SIGCHLD) == 1
                }
                var chld = sigset_t()
                sigemptyset(&chld)
                sigaddset(&chld, SIGCHLD)
                pthread_sigmask(SIG_BLOCK, &chld, nil)  // as the concurrency pool's threads do
                let before = sigchldBlocked()
                do {
                    let child = try ChildProcess.spawn(argv: ["true"])
                    c.resume(returning: (before, sigchldBlocked(), child))
                } catch {
                    c.resume(throwing: error)
                }
            }
            thread.start()
        }
        #expect(blockedBefore)
        #expect(!blockedAfter)
        #expect(await child.wait().exitCode == 0)
    }
}
