import Foundation
import JobsdAPI
@testable import JobsdCore
import JobsdStore
import Testing

extension EngineTests {
    @Test func submit_OnAnIdleEngine_StartsTheJobBeforeItReturns() async throws {
        try await EngineHarness.with { h in
            let job = try await h.submit(JobSpec(command: ["sh", "-c", "echo started"]))
            let now = try #require(try await h.engine.job(job.id))
            #expect(now.state == .running || now.state.isTerminal, "still \(now.state)")
            #expect(now.startedAt != nil)
            let done = try await h.terminal(job.id)
            #expect(done.state == .succeeded)
            #expect(try await h.output(job.id) == "started\n")
            await h.expectCleanedUp(done)
        }
    }

    @Test func submit_WhileEveryRunningSlotIsTaken_LeavesTheJobQueued_UntilASlotFrees() async throws {
        try await EngineHarness.with({ $0.maxRunning = 1 }) { h in
            let blocker = try await h.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 1000"], graceSeconds: 0.2))
            try await h.waitForOutput(blocker.id, containing: "ready")
            let queued = try await h.submit(JobSpec(command: ["sh", "-c", "echo second"]))
            #expect(try await h.engine.job(queued.id)?.state == .queued)
            _ = try await h.engine.cancel(blocker.id)
            let done = try await h.terminal(queued.id)
            #expect(done.state == .succeeded)
            #expect(try await h.output(queued.id) == "second\n")
        }
    }

    @Test func cancel_SendsSIGTERMOnceToEachProcess_TheGroupAndAnEscapedDescendant() async throws {
        try await EngineHarness.with { h in
            let evidence = h.evidence("terms")
            let escapee = "trap 'echo escaped >> \(evidence)' TERM; echo > escapee.ready; while :; do sleep 0.02; done"
            let script = """
                setsid sh -c "\(escapee)" >/dev/null 2>&1 &
                trap 'echo leader >> \(evidence)' TERM
                while [ ! -e escapee.ready ]; do sleep 0.01; done
                echo ready
                while :; do sleep 0.02; done
                """
            let job = try await h.submit(JobSpec(command: ["sh", "-c", script], graceSeconds: 0.5))
            try await h.waitForOutput(job.id, containing: "ready")
            _ = try await h.engine.cancel(job.id)
            let done = try await h.terminal(job.id)
            #expect(done.state == .cancelled)
            #expect(done.signal == "SIGKILL")
            let lines = (h.read(evidence) ?? "").split(separator: "\n").sorted()
            #expect(lines == ["escaped", "leader"])
            await h.expectCleanedUp(done)
        }
    }

    @Test func manyJobsWritingAtOnce_EachGetExactlyTheirOwnOutput_PerStream() async throws {
        try await EngineHarness.with({ $0.maxRunning = 16 }) { h in
            var jobs: [(Int, Job)] = []
            for i in 0..<16 {
                let script = "seq -f 'o\(i)-%g' 1 3000; seq -f 'e\(i)-%g' 1 3000 >&2"
                jobs.append((i, try await h.submit(JobSpec(command: ["sh", "-c", script]))))
            }
            for (i, job) in jobs {
                let done = try await h.terminal(job.id)
                #expect(done.state == .succeeded)
                let expectedOut = (1...3000).map { "o\(i)-\($0)\n" }.joined()
                let expectedErr = (1...3000).map { "e\(i)-\($0)\n" }.joined()
                #expect(try await h.output(job.id, .stdout) == expectedOut)
                #expect(try await h.output(job.id, .stderr) == expectedErr)
                #expect(try await h.output(job.id) == expectedOut + expectedErr)
            }
        }
    }
}

@Suite struct OutputPumpTests {
    private func temporaryLog() throws -> (JobLog, String) {
        let dir = NSTemporaryDirectory() + "jobsd-pump-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return (JobLog.create(dataDirectory: dir, id: "p", maxBytes: 1 << 20), dir)
    }

    private func text(_ log: JobLog, _ stream: LogStream? = nil) -> String {
        String(decoding: log.read(stream: stream, from: nil).bytes, as: UTF8.self)
    }

    private func write(_ fd: Int32, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    @Test func pump_ReadsBothPipesToEndOfFile_IntoTheLog() async throws {
        let (log, dir) = try temporaryLog()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try Pipes.pipe(), err = try Pipes.pipe()
        let pump = OutputPump(stdout: out.read, stderr: err.read, log: log) {}
        write(out.write, "to stdout\n")
        write(err.write, "to stderr\n")
        close(out.write)
        close(err.write)
        #expect(await pump.waitUntilDrained(timeout: 10))
        #expect(text(log, .stdout) == "to stdout\n")
        #expect(text(log, .stderr) == "to stderr\n")
    }

    @Test func close_WhileAWriterStillHoldsThePipe_KeepsWhatWasWritten_AndEnds() async throws {
        let (log, dir) = try temporaryLog()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try Pipes.pipe(), err = try Pipes.pipe()
        defer {
            close(out.write)
            close(err.write)
        }
        let pump = OutputPump(stdout: out.read, stderr: err.read, log: log) {}
        write(out.write, "before close\n")
        #expect(!(await pump.waitUntilDrained(timeout: 0.05)))
        await pump.close()
        #expect(await pump.waitUntilDrained(timeout: 0))
        #expect(text(log) == "before close\n")
    }
}

@Suite struct WorkdirsTests {
    private func withWorkdirs(_ body: (Workdirs, String) throws -> Void) throws {
        let data = NSTemporaryDirectory() + "jobsd-workdirs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: data) }
        try body(Workdirs(dataDirectory: data), data)
    }

    @Test func create_ReplacesALeftoverDirectory_WithAnEmptyOne_AndMakesMissingParents() throws {
        try withWorkdirs { workdirs, _ in
            let path = try workdirs.create("a")
            try "x".write(toFile: path + "/leftover", atomically: false, encoding: .utf8)
            #expect(try workdirs.create("a") == path)
            #expect(try FileManager.default.contentsOfDirectory(atPath: path).isEmpty)
        }
    }

    @Test func remove_DeletesAFullDirectory_AndAMissingOneIsFine() throws {
        try withWorkdirs { workdirs, _ in
            let full = try workdirs.create("full")
            try FileManager.default.createDirectory(atPath: full + "/sub", withIntermediateDirectories: true)
            try "x".write(toFile: full + "/sub/file", atomically: false, encoding: .utf8)
            workdirs.remove("full", reuse: true)
            workdirs.remove("missing", reuse: true)
            #expect(!FileManager.default.fileExists(atPath: full))
        }
    }

    @Test func aPristineEndedWorkdir_IsRecycledForTheNextJob_ButATouchedOneIsDeleted() throws {
        try withWorkdirs { workdirs, _ in
            func spares() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: workdirs.spareDirectory)) ?? []).count }
            let first = try workdirs.create("first")
            var status = stat()
            #expect(lstat(first, &status) == 0 && status.st_mode & 0o7777 == 0o700 & ~umaskNow())
            workdirs.remove("first", reuse: true)
            #expect(!FileManager.default.fileExists(atPath: first))
            #expect(spares() == 1)
            let second = try workdirs.create("second")
            #expect(spares() == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: second).isEmpty)

            try "x".write(toFile: second + "/file", atomically: false, encoding: .utf8)
            workdirs.remove("second", reuse: true)
            #expect(!FileManager.default.fileExists(atPath: second))
            let third = try workdirs.create("third")
            chmod(third, 0o701)
            workdirs.remove("third", reuse: true)
            #expect(!FileManager.default.fileExists(atPath: third))
            workdirs.remove("never-created", reuse: true)
            #expect(spares() == 0)
        }
    }
}

extension EngineTests {
    @Test func stoppingTheEngine_DeletesTheSpareWorkdirs() async throws {
        let h = try EngineHarness.make()
        let engine = h.engine
        let runner = Task { try await engine.run() }
        await engine.waitUntilReady()
        let job = try await h.submit(JobSpec(command: ["true"]))
        #expect(try await h.terminal(job.id).state == .succeeded)
        let spares = h.dataDirectory + "/.spare-workdirs"
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: spares)) ?? []).count == 1)
        engine.shutdown()
        try await runner.value
        #expect(!FileManager.default.fileExists(atPath: spares))
    }
}

@Suite struct DeadlinesTests {
    /// Collects names in the order the timer thread runs them.
    private final class Runs: @unchecked Sendable {
        let lock = NSLock()
        var names: [String] = []  // guarded by `lock`
        let changed = AsyncCondition()

        func add(_ name: String) {
            lock.withLock { names.append(name) }
            changed.broadcast()
        }
    }

    private final class Captured: Sendable {}

    @Test func actions_RunInDeadlineOrder_AndACancelledOneNeverRuns() async {
        let runs = Runs()
        Deadlines.shared.schedule(after: 0.06) { runs.add("late") }
        let cancelled = Deadlines.shared.schedule(after: 0.02) { runs.add("cancelled") }
        Deadlines.shared.schedule(after: 0.01) { runs.add("early") }
        Deadlines.shared.cancel(cancelled)
        await runs.changed.wait(timeout: 10) { runs.lock.withLock { runs.names.count >= 2 } }
        // "cancelled" was due before "late": had it run, it would be listed before it.
        #expect(runs.lock.withLock { runs.names } == ["early", "late"])
    }

    @Test func cancel_ReleasesWhatTheActionCaptured_LongBeforeItsDeadline() {
        weak var released: Captured?
        do {
            let captured = Captured()
            released = captured
            let token = Deadlines.shared.schedule(after: 3600) { _ = captured }
            Deadlines.shared.cancel(token)
        }
        #expect(released == nil)
    }
}

/// The process's umask, from /proc (calling umask(2) would change it for the tests running beside).
private func umaskNow() -> mode_t {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("Umask:") } ?? "Umask: 0022"
    return mode_t(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) ?? 0o022
}
