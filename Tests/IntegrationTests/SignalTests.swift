import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// Real SIGTERM/SIGINT to the jobsd binary: drain, second signal, exit code, what is left.
@Suite struct SignalTests {
    @Test func sigterm_DrainsACompletingJob_LeavesQueuedJobsQueued_AndExits0() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-signal")
        let scratch = try scratchDirectory()
        defer { TemporaryDirectory.remove(data) }
        let jobsd = try await JobsdProcess.start(dataDirectory: data, arguments: ["--max-running", "1", "--shutdown-timeout", "60"])
        let client = jobsd.client()
        // Finishes on its own once the test lets it (a file appears), well within the drain.
        let finishing = try await client.submit(JobSpec(command: ["sh", "-c", "echo ready; while [ ! -e \(scratch)/go ]; do sleep 0.02; done"]))
        let queued = try await client.submit(JobSpec(command: ["sh", "-c", "echo ran"]))
        try await client.waitForOutput(finishing.id, "ready")
        await jobsd.signal(SIGTERM)
        // readyz flips while the drain runs; reads keep working.
        #expect(try await client.readyzAfterDrainBegins() == 503)
        #expect(try await client.transport.send(ClientRequest(method: "POST", path: "/v1/jobs", body: Array(#"{"command":["true"]}"#.utf8))).status == 503)
        #expect(try await client.job(queued.id).state == .queued)
        _ = FileManager.default.createFile(atPath: "\(scratch)/go", contents: nil)
        let status = await jobsd.waitForExit()
        #expect(status.exitCode == 0, "\(jobsd.log)")

        let again = try await JobsdProcess.start(dataDirectory: data)
        defer { again.child.signal(SIGKILL) }
        #expect(try await again.client().job(finishing.id).state == .succeeded)
        #expect(try await again.client().wait(queued.id, timeout: 60).state == .succeeded, "the queued job ran after the restart")
    }

    @Test func aSecondSignal_CancelsRunningJobsAtOnce_RunsTheirCleanup_AndExits0() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-signal")
        let scratch = try scratchDirectory()
        defer { TemporaryDirectory.remove(data) }
        let jobsd = try await JobsdProcess.start(dataDirectory: data, arguments: ["--shutdown-timeout", "1h"])
        let client = jobsd.client()
        let job = try await client.submit(JobSpec(
            command: ["sh", "-c", "echo ready; sleep 300 & exec sleep 300"], graceSeconds: 1,
            cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE > \(scratch)/state"])))
        try await client.waitForOutput(job.id, "ready")
        await jobsd.signal(SIGINT)
        #expect(try await client.readyzAfterDrainBegins() == 503)
        await jobsd.signal(SIGTERM)
        let status = await jobsd.waitForExit()
        #expect(status.exitCode == 0, "\(jobsd.log)")
        #expect(processesAlive(markedWith: job.id).isEmpty, "nothing of the job outlives jobsd")
        #expect(try String(contentsOfFile: "\(scratch)/state", encoding: .utf8) == "cancelled\n")

        let again = try await JobsdProcess.start(dataDirectory: data)
        defer { again.child.signal(SIGKILL) }
        let stored = try await again.client().job(job.id)
        #expect(stored.state == .cancelled)
        #expect(stored.cleanup.state == .done)
    }
}
