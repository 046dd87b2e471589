import Foundation
import JobsdClient
import JobsdCore

/// The built `jobsd` binary running as a child of the test process, for what an in-process server
/// cannot show: `kill -9`, real signals, exit codes. Spawned through jobsd's own reaper
/// (`ChildProcess`), never Foundation.Process. Its stderr goes to a
/// `test-jobsd-*.log` file in its data directory.
public final class JobsdProcess: Sendable {
    public let child: ChildProcess
    public let port: Int
    public let dataDirectory: String
    public let logPath: String

    /// Executables built next to the test bundle (`swift build --build-tests` builds them).
    public static func executable(_ name: String) throws -> String {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let path = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestHarnessError("\(path) is missing: run `swift build --build-tests` (scripts/test.sh does)")
        }
        return path
    }

    /// The jobsd binary tests start: `JOBSD_TEST_BINARY` when set (e.g. the release build, which
    /// is what operators run: `.ci/run` runs the memory tests against it too), else the one built
    /// next to the test bundle.
    public static func jobsdBinary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["JOBSD_TEST_BINARY"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else { throw TestHarnessError("JOBSD_TEST_BINARY=\(path) is not executable") }
            return path
        }
        return try executable("jobsd")
    }

    /// Starts jobsd on port 0 with `dataDirectory` and `arguments`, and returns once it listens
    /// (its log line with `port=`) — or throws with the log when it exits or does not come up.
    /// Its containment is `TestContainment.choice` unless `env` sets `JOBSD_CONTAINMENT`.
    /// `launcher`, when given, is the command that execs jobsd (e.g. `["prlimit", "--nofile=256", "--"]`).
    public static func start(dataDirectory: String, arguments: [String] = [], env: [String: String] = [:],
                             launcher: [String] = []) async throws -> JobsdProcess {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let logPath = dataDirectory + "/test-jobsd-\(UUID().uuidString.prefix(8)).log"
        let fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TestHarnessError("cannot create \(logPath)") }
        defer { close(fd) }
        var environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "JOBSD_LOG_LEVEL": "debug", "JOBSD_CONTAINMENT": TestContainment.choice.rawValue,
        ]
        environment.merge(env) { $1 }
        let argv = launcher + [try jobsdBinary(), "--port", "0", "--data-dir", dataDirectory] + arguments
        let child = try ChildProcess.spawn(argv: argv, env: environment, stdin: nil, stdout: fd, stderr: fd)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while clock.now < deadline {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let range = log.range(of: "listening host="), let portRange = log[range.upperBound...].range(of: "port="),
               let port = Int(log[portRange.upperBound...].prefix { $0.isNumber }) {
                return JobsdProcess(child: child, port: port, dataDirectory: dataDirectory, logPath: logPath)
            }
            if child.exitStatus != nil { throw TestHarnessError("jobsd exited (\(child.exitStatus!)) at start:\n\(log)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        child.signal(SIGKILL)
        throw TestHarnessError("jobsd did not start listening within 60 s:\n\(try String(contentsOfFile: logPath, encoding: .utf8))")
    }

    init(child: ChildProcess, port: Int, dataDirectory: String, logPath: String) {
        self.child = child
        self.port = port
        self.dataDirectory = dataDirectory
        self.logPath = logPath
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public func client(token: String? = nil) -> JobsdClient { JobsdClient(baseURL: baseURL, token: token) }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` and, for SIGKILL, waits until the process is gone.
    public func signal(_ signal: Int32) async {
        child.signal(signal)
        if signal == SIGKILL { _ = await child.wait() }
    }

    /// SIGTERM, then waits for the exit: a graceful stop, after which jobsd has removed what it
    /// keeps outside its data directory (its cgroup root).
    public func stop() async -> ExitStatus {
        child.signal(SIGTERM)
        return await child.wait()
    }

    /// Waits for the process to exit and returns how it ended.
    public func waitForExit() async -> ExitStatus { await child.wait() }
}

public struct TestHarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
