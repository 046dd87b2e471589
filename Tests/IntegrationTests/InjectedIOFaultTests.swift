import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// Issue #22: write and fsync errors injected into a running jobsd with libfiu (Debian
/// `fiu-utils`): jobsd runs under `fiu-run -x` (libfiu's POSIX preload library wraps `pwrite`,
/// `fdatasync`, …) and `fiu-ctrl` switches a failure point on and off while it runs. Real SQLite,
/// real log files, real processes.
@Suite struct InjectedIOFaultTests {
    /// jobsd under `fiu-run -x`, remote-controlled through FIFOs named after `prefix`.
    private struct FaultyJobsd {
        let jobsd: JobsdProcess
        let prefix: String
        let directory: String

        static func start() async throws -> FaultyJobsd {
            let dir = try TemporaryDirectory.make(prefix: "jobsd-fiu")
            let prefix = dir + "/fiu-ctrl"
            let jobsd = try await JobsdProcess.start(dataDirectory: dir + "/data", launcher: ["fiu-run", "-x", "-f", prefix, "--"])
            return FaultyJobsd(jobsd: jobsd, prefix: prefix, directory: dir)
        }

        /// Runs `fiu-ctrl -c command` on jobsd; throws unless it succeeded.
        func control(_ command: String) async throws {
            let child = try ChildProcess.spawn(argv: ["fiu-ctrl", "-f", prefix, "-c", command, String(jobsd.child.pid)])
            let status = await child.wait()
            guard status.exitCode == 0 else { throw TestFailure("fiu-ctrl -c '\(command)' ended with \(status)") }
        }

        func stop() {
            jobsd.child.signal(SIGKILL)
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// EIO from every `fdatasync` and `fsync`: SQLite cannot make a commit durable.
    @Test func syncErrorsOnTheStore_HoldTheOutcomeUntilTheyStop_AndSayItMeanwhile() async throws {
        let faulty = try await FaultyJobsd.start()
        defer { faulty.stop() }
        let client = faulty.jobsd.client()
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let job = try await client.submit(JobSpec(command: ["sh", "-c", "while [ ! -e \"$0/go\" ]; do sleep 0.02; done; echo done", scratch]))

        for call in ["fdatasync", "fsync"] { try await faulty.control("enable name=posix/io/sync/\(call),failinfo=\(EIO)") }
        #expect(FileManager.default.createFile(atPath: scratch + "/go", contents: nil))
        try await eventually("/readyz turning 503") { try await status(client, "/readyz") == 503 }
        let readiness = try await client.transport.send(ClientRequest(path: "/readyz"))
        #expect(readiness.header("Retry-After") != nil)
        #expect(readiness.text.contains("I/O error"), "\(readiness.text)")
        try await eventually("the job's end being refused more than once") { try await counter(client, "jobsd_store_write_errors_total") >= 2 }
        #expect(try await client.job(job.id).state == .running, "not reported terminal before it is stored")
        #expect(try await counter(client, "jobsd_store_writes_pending") == 1)

        for call in ["fdatasync", "fsync"] { try await faulty.control("disable name=posix/io/sync/\(call)") }
        let done = try await client.wait(job.id, timeout: 30)
        #expect(done.state == .succeeded)
        #expect(done.exitCode == 0)
        #expect(try await status(client, "/readyz") == 200)
        #expect(processesAlive(markedWith: job.id).isEmpty)
    }

    /// `DELETE ?wait=` stores the `cancelling` record without waiting for the disk (the terminal
    /// record's fsync covers it): with every fsync refused, it is still stored, and survives a
    /// `kill -9` of jobsd — the restarted jobsd finishes the job `cancelled`, not `failed`
    /// (interrupted), as it would had the record been lost.
    @Test func aDeleteWithWait_StoresCancellingWithoutTheDisksSync_AndACrashKeepsIt() async throws {
        let faulty = try await FaultyJobsd.start()
        defer { faulty.stop() }
        let client = faulty.jobsd.client()
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // Ignores SIGTERM: the job stays `cancelling` for its grace, past the DELETE's wait.
        let job = try await client.submit(JobSpec(
            command: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.02; done"], graceSeconds: 5,
            cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE > \(scratch)/cleanup"])))
        try await client.waitForOutput(job.id, "ready")

        for call in ["fdatasync", "fsync"] { try await faulty.control("enable name=posix/io/sync/\(call),failinfo=\(EIO)") }
        let answer = try await client.transport.send(ClientRequest(method: "DELETE", path: "/v1/jobs/\(job.id)?wait=0.5"))
        #expect(answer.status == 202)
        #expect(try decodeJob(answer).state == .cancelling)
        await faulty.jobsd.signal(SIGKILL)
        _ = await faulty.jobsd.waitForExit()

        let again = try await JobsdProcess.start(dataDirectory: faulty.directory + "/data")
        defer { again.child.signal(SIGKILL) }
        let done = try await again.client().wait(job.id, timeout: 60)
        #expect(done.state == .cancelled, "the cancelling record was stored: \(done.json)")
        #expect(try String(contentsOfFile: scratch + "/cleanup", encoding: .utf8) == "cancelled\n")
        #expect(processesAlive(markedWith: job.id).isEmpty)
    }

    /// EIO from every `pwrite` (SQLite's pages and WAL, and the job's log files) while the job
    /// prints: its output is dropped and counted, the job is not blocked, its outcome waits.
    @Test func writeErrorsOnTheStoreAndTheLog_DropAndCountTheOutput_AndLoseNoOutcome() async throws {
        let faulty = try await FaultyJobsd.start()
        defer { faulty.stop() }
        let client = faulty.jobsd.client()
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let job = try await client.submit(JobSpec(command: burstOfOutput(bytes: 1 << 20, in: scratch)))
        try await client.waitForOutput(job.id, "before")

        try await faulty.control("enable name=posix/io/rw/pwrite,failinfo=\(EIO)")
        #expect(FileManager.default.createFile(atPath: scratch + "/burst", contents: nil))
        try await eventually("the job getting past its output") { FileManager.default.fileExists(atPath: scratch + "/wrote") }
        #expect(try await client.job(job.id).logDroppedBytes == 1 << 20)

        try await faulty.control("disable name=posix/io/rw/pwrite")
        #expect(FileManager.default.createFile(atPath: scratch + "/resume", contents: nil))
        let done = try await client.wait(job.id, timeout: 30)
        #expect(done.state == .succeeded)
        #expect(done.logDroppedBytes == 1 << 20)
        #expect(String(decoding: try await client.logs(job.id).bytes, as: UTF8.self) == "before\nafter\n")
        let events = try await client.events(job.id)
        let dropped = try #require(events.first { $0.type == .logDropped })
        guard case .string(let error)? = dropped["error"] else { throw TestFailure("log_dropped without an error: \(dropped)") }
        #expect(error.contains("Input/output error"), "\(error)")
        #expect(events.first { $0.type == .logResumed }?["bytes"] == .number(Double(1 << 20)))
        #expect(processesAlive(markedWith: job.id).isEmpty)
    }
}

private func status(_ client: JobsdClient, _ path: String) async throws -> Int {
    try await client.transport.send(ClientRequest(path: path)).status
}

/// A metric's value in `/metrics` (0 when absent).
private func counter(_ client: JobsdClient, _ name: String) async throws -> Double {
    let text = try await client.transport.send(ClientRequest(path: "/metrics")).text
    for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
        return Double(line.split(separator: " ").last ?? "") ?? 0
    }
    return 0
}
