import Foundation
import JobsdAPI
@testable import JobsdCore
import JobsdStore
import Logging
import MetricsTestKit
import Testing

/// A real engine on a temp data dir and an in-memory store, running in a task; always shut down.
struct EngineHarness {
    let engine: JobEngine
    let store: InMemoryJobStore
    /// swift-metrics' test backend: the engine emits through the API to whatever factory it gets.
    let metrics: TestMetrics
    let dataDirectory: String

    static func make(_ configure: (inout EngineConfiguration) -> Void = { _ in }) throws -> EngineHarness {
        let dir = NSTemporaryDirectory() + "jobsd-core-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var config = EngineConfiguration(dataDirectory: dir)
        config.defaultGrace = 0.5
        config.shutdownTimeout = 0.5
        config.containment = containment
        configure(&config)
        let store = InMemoryJobStore()
        let metrics = TestMetrics()
        var logger = Logger(label: "jobsd.test")
        logger.logLevel = .warning
        return EngineHarness(
            engine: try JobEngine(configuration: config, store: store, metrics: metrics, logger: logger),
            store: store, metrics: metrics, dataDirectory: dir)
    }

    /// Runs `body` while the engine runs; shuts it down afterwards (also when `body` throws) and
    /// waits for `run()` to return.
    static func with(
        _ configure: (inout EngineConfiguration) -> Void = { _ in },
        store prepare: (InMemoryJobStore, String) async throws -> Void = { _, _ in },
        _ body: (EngineHarness) async throws -> Void
    ) async throws {
        let h = try make(configure)
        try await prepare(h.store, h.dataDirectory)
        try await running(h.engine) { try await body(h) }
    }

    /// Runs `body` while `engine` runs; shuts it down afterwards (also when `body` throws, after
    /// `onFailure`) and waits for `run()` to return.
    static func running(_ engine: JobEngine, onFailure: () -> Void = {}, _ body: () async throws -> Void) async throws {
        let runner = Task { try await engine.run() }
        await engine.waitUntilReady()
        do {
            try await body()
        } catch {
            onFailure()
            engine.shutdown()
            engine.shutdown()
            _ = try? await runner.value
            throw error
        }
        engine.shutdown()
        engine.shutdown()
        try await runner.value
    }

    func submit(_ spec: JobSpec) async throws -> Job {
        guard case let .created(job) = try await engine.submit(spec) else { Issue.record("not created"); throw Failure.unexpected }
        return job
    }

    /// Waits (generously) until the job is terminal.
    func terminal(_ id: String) async throws -> Job {
        let job = try #require(try await engine.wait(id, timeout: 30))
        #expect(job.state.isTerminal, "job \(id) not terminal: \(job.state)")
        return job
    }

    /// Waits until the job's output contains `text` (a readiness signal printed by the job).
    func waitForOutput(_ id: String, containing text: String) async throws {
        var cursor: LogCursor?
        var seen = ""
        for _ in 0..<600 {
            let chunk = try await engine.readLogs(id, stream: nil, from: cursor)
            seen += String(decoding: chunk.bytes, as: UTF8.self)
            if seen.contains(text) { return }
            cursor = chunk.next
            if chunk.jobTerminal { break }
            await engine.waitForLogs(id, after: chunk.next, timeout: 0.1)
        }
        Issue.record("job \(id) never printed \(text); output: \(seen)")
        throw Failure.unexpected
    }

    func output(_ id: String, _ stream: LogStream? = nil) async throws -> String {
        String(decoding: try await engine.readLogs(id, stream: stream, from: nil).bytes, as: UTF8.self)
    }

    func workdir(_ id: String) -> String { "\(dataDirectory)/work/\(id)" }

    /// A file path outside any workdir, for cleanup commands to leave evidence in.
    func evidence(_ name: String) -> String { "\(dataDirectory)/\(name)" }

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// Everything the contract guarantees after a job ended: no process carrying its marker, no
    /// zombie child of this process, its workdir gone.
    func expectCleanedUp(_ job: Job, sourceLocation: SourceLocation = #_sourceLocation) async {
        #expect(!FileManager.default.fileExists(atPath: workdir(job.id)), "workdir left", sourceLocation: sourceLocation)
        #expect(ProcScan.carriers(of: job.id).isEmpty, "processes with the job's marker left", sourceLocation: sourceLocation)
        #expect(await ProcScan.noZombieChildren(), "zombie children left", sourceLocation: sourceLocation)
    }

    func counter(_ name: String) -> Int64 { metrics.counterTotal(label: name) }

    enum Failure: Error { case unexpected }

    /// `JOBSD_TEST_CONTAINMENT` (auto, cgroup or proc; unset: auto), as for the integration tests.
    static var containment: ContainmentChoice {
        ProcessInfo.processInfo.environment["JOBSD_TEST_CONTAINMENT"].flatMap(ContainmentChoice.init(rawValue:)) ?? .auto
    }
}

/// A leftover of a "previous jobsd" on a data directory: `sh` ignoring SIGTERM, started under
/// that directory's containment as job `jobID`'s main process (in its cgroup, or below its
/// subreaper) and carrying the job's marker, so a new engine on that directory must find it.
struct Leftover {
    let pid: pid_t
    let startTicks: UInt64?
    let exit: ExitLatch

    /// Returns once the process has set its trap.
    static func start(of jobID: String, dataDirectory: String) async throws -> Leftover {
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(null) }
        let ready = NSTemporaryDirectory() + "leftover-\(jobID)"
        let previous = try Containment.choose(EngineHarness.containment, dataDirectory: dataDirectory)
        let path = try JobEnvironment.resolve("sh", path: JobEnvironment.basePATH)
        let latch = ExitLatch()
        let spawned = try previous.spawn(
            jobID, jobID: jobID, path: path, argv: ["sh", "-c", "trap '' TERM; echo > '\(ready)'; while :; do sleep 0.05; done"],
            env: ["PATH=\(JobEnvironment.basePATH)", "JOBSD_JOB_ID=\(jobID)"], cwd: nil, stdin: null, stdout: null, stderr: null,
            onExit: latch.set)
        while !FileManager.default.fileExists(atPath: ready) { await AsyncCondition.sleep(0.01) }
        return Leftover(pid: spawned.pid, startTicks: spawned.startTicks, exit: latch)
    }

    func wait() async -> JobsdCore.ExitStatus { await exit.wait() }
    func signal(_ signal: Int32) { if exit.value == nil { kill(pid, signal) } }
}

/// An independent /proc scan for the tests (not the engine's ProcessTable).
enum ProcScan {
    static func pids() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    static func carriers(of jobID: String) -> [Int32] {
        let marker = Data("JOBSD_JOB_ID=\(jobID)".utf8)
        return pids().filter { pid in
            guard let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  !(stat.split(separator: ")").last?.split(separator: " ").first == "Z")
            else { return false }
            return env.split(separator: 0).contains { Data($0) == marker }
        }
    }

    static func zombieChildren() -> [Int32] {
        let me = getpid()
        return pids().filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let rest = stat.split(separator: ")").last?.split(separator: " "), rest.count > 2
            else { return false }
            return rest[0] == "Z" && Int32(rest[1]) == me
        }
    }

    /// Zombies are reaped by the reaper thread right after they exit: allow it a moment.
    static func noZombieChildren() async -> Bool {
        for _ in 0..<100 {
            if zombieChildren().isEmpty { return true }
            await AsyncCondition.sleep(0.02)
        }
        return false
    }
}
