import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// The jobsd binary killed with SIGKILL at the worst moments, then restarted on the same data dir.
@Suite struct CrashRecoveryTests {
    /// Follows a job's output until `text` appears (the job's own readiness signal).
    @Test func aKill9RightAfterThe201s_LosesNoJob_AndTheRestartFinishesWhatWasLeft() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-crash")
        defer { TemporaryDirectory.remove(data) }
        let first = try await JobsdProcess.start(dataDirectory: data, arguments: ["--max-running", "4"])
        let client = first.client()
        var running: [String] = []
        for _ in 0..<4 {
            running.append(try await client.submit(JobSpec(command: ["sh", "-c", "echo ready; sleep 300 & exec sleep 300"])).id)
        }
        for id in running { try await client.waitForOutput(id, "ready") }
        var queued: [String] = []
        for i in 0..<196 { queued.append(try await client.submit(JobSpec(command: ["sh", "-c", "echo \(i)"])).id) }
        await first.signal(SIGKILL)

        let second = try await JobsdProcess.start(dataDirectory: data, arguments: ["--max-running", "4"])
        defer { second.child.signal(SIGKILL) }
        let restarted = second.client()
        var listed = Set<String>()
        for try await job in restarted.list(pageSize: 50) { listed.insert(job.id) }
        #expect(listed == Set(running + queued), "every acknowledged job is present after the crash")
        for id in running {
            let job = try await restarted.wait(id, timeout: 60)
            #expect(job.state == .failed)
            #expect(job.error == "interrupted: the server stopped while this job ran")
            #expect(processesAlive(markedWith: id).isEmpty, "leftovers of \(id) are killed")
        }
        for id in queued {
            let job = try await restarted.wait(id, timeout: 120)
            #expect(job.state == .succeeded, "\(id)")
        }
        #expect(second.log.contains("recover"), "each recovered job is logged")
    }

    @Test func aJobKilledMidCancel_ComesBackCancelled_WithItsCleanupRun() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-crash")
        let scratch = try scratchDirectory()
        defer { TemporaryDirectory.remove(data) }
        let first = try await JobsdProcess.start(dataDirectory: data)
        let spec = JobSpec(
            command: ["sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"], graceSeconds: 15,
            cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE >> \(scratch)/cleanup"]))
        let job = try await first.client().submit(spec)
        try await first.client().waitForOutput(job.id, "ready")
        #expect(try await first.client().transport.send(ClientRequest(method: "DELETE", path: "/v1/jobs/\(job.id)")).status == 202)
        #expect(try await first.client().job(job.id).state == .cancelling)
        await first.signal(SIGKILL)
        #expect(!processesAlive(markedWith: job.id).isEmpty, "the TERM-ignoring job outlived jobsd")

        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        let done = try await second.client().wait(job.id, timeout: 60)
        #expect(done.state == .cancelled)
        #expect(done.cleanup.state == .done)
        #expect(try String(contentsOfFile: "\(scratch)/cleanup", encoding: .utf8) == "cancelled\n")
        #expect(processesAlive(markedWith: job.id).isEmpty)
    }

    @Test func aCrashDuringCleanup_IsFinishedAtTheNextStart() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-crash")
        let scratch = try scratchDirectory()
        defer { TemporaryDirectory.remove(data) }
        let first = try await JobsdProcess.start(dataDirectory: data)
        // The first cleanup run hangs (so jobsd is killed in the middle of it); the second one returns.
        let cleanup = "if [ -e \(scratch)/first ]; then echo $JOBSD_JOB_STATE > \(scratch)/second; else touch \(scratch)/first; exec sleep 300; fi"
        let job = try await first.client().submit(JobSpec(command: ["true"], cleanup: CleanupSpec(command: ["sh", "-c", cleanup], timeoutSeconds: 600)))
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while !FileManager.default.fileExists(atPath: "\(scratch)/first") {
            #expect(clock.now < deadline, "the cleanup never started")
            if clock.now >= deadline { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await first.client().job(job.id).state.isTerminal == false, "not terminal while its cleanup runs")
        await first.signal(SIGKILL)

        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        let done = try await second.client().wait(job.id, timeout: 60)
        #expect(done.state.isTerminal)
        #expect(done.cleanup.state == .done)
        #expect(FileManager.default.fileExists(atPath: "\(scratch)/second"))
        #expect(processesAlive(markedWith: job.id).isEmpty, "the hung first cleanup was killed")
    }

    @Test func anUnwritableDataDir_StopsStartUpWithOneClearLine() async throws {
        let file = try TemporaryDirectory.make(prefix: "jobsd-notdir") + "/plain-file"
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        let log = try TemporaryDirectory.make(prefix: "jobsd-log") + "/stderr"
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let child = try ChildProcess.spawn(argv: [try JobsdProcess.executable("jobsd"), "--port", "0", "--data-dir", file + "/data"], stdout: fd, stderr: fd)
        close(fd)
        let status = await child.wait()
        #expect(status.exitCode == 1)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.hasPrefix("jobsd: "), "\(text)")
        #expect(text.contains(file))
    }
}
