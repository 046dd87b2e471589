import Foundation
import JobsdClient
import JobsdCore
import JobsdServer
import Logging

/// A real jobsd (SQLite store, real processes) running in this process on 127.0.0.1, port 0, with a
/// temporary data directory. `TestServer.with` always shuts it down and removes the directory, on
/// success and on failure. Its engine never does the idle heap trim (`idleTrimDelay`): the heap is
/// the test process's, shared by every server of the run, and `malloc_trim` is process-wide — the
/// trim and the cache drop before it are checked on real jobsd processes (MemoryTests).
public struct TestServer: Sendable {
    public let server: JobsdServer
    public let port: Int
    public let dataDirectory: String
    public let token: String?

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// A new libcurl-backed client of this server (with the token, if any).
    public func client(token: String? = nil) -> JobsdClient {
        JobsdClient(baseURL: baseURL, token: token ?? self.token)
    }

    /// Starts a server configured by `configure` (defaults: short shutdown timeout and grace so
    /// tests end quickly; the containment named by `JOBSD_TEST_CONTAINMENT`, else auto), runs
    /// `body`, then drains and stops the server.
    public static func with<T: Sendable>(
        _ configure: (inout ServerConfiguration) -> Void = { _ in },
        _ body: (TestServer) async throws -> T
    ) async throws -> T {
        let dataDirectory = try TemporaryDirectory.make(prefix: "jobsd-test")
        defer { TemporaryDirectory.remove(dataDirectory) }
        var configuration = ServerConfiguration(dataDirectory: dataDirectory)
        configuration.http.port = 0
        configuration.handleSignals = false
        configuration.engine.shutdownTimeout = 0
        configuration.engine.defaultGrace = 1
        configuration.engine.containment = TestContainment.choice
        configuration.engine.idleTrimDelay = 365 * 24 * 3600  // never, for a test
        configure(&configuration)
        var logger = Logger(label: "jobsd-test")
        logger.logLevel = ProcessInfo.processInfo.environment["JOBSD_TEST_LOG"] == nil ? .critical : .debug
        let server = try JobsdServer(configuration: configuration, logger: logger)
        let running = Task { try await server.run() }
        do {
            let port = try await server.waitUntilListening()
            await server.waitUntilReady()
            let result = try await body(TestServer(server: server, port: port, dataDirectory: dataDirectory, token: server.configuration.token))
            server.beginShutdown()
            try await running.value
            return result
        } catch {
            server.beginShutdown()
            server.beginShutdown()
            _ = try? await running.value
            throw error
        }
    }
}

/// The containment the tests ask for: `JOBSD_TEST_CONTAINMENT` (auto, cgroup or proc; unset:
/// auto), so that `scripts/test.sh` can run the containment tests once per method.
public enum TestContainment {
    public static var choice: ContainmentChoice {
        ProcessInfo.processInfo.environment["JOBSD_TEST_CONTAINMENT"].flatMap(ContainmentChoice.init(rawValue:)) ?? .auto
    }
}

/// Fresh directories under the system temp dir.
public enum TemporaryDirectory {
    public static func make(prefix: String) throws -> String {
        var base = NSTemporaryDirectory()
        while base.count > 1, base.hasSuffix("/") { base.removeLast() }
        var template = Array((base + "/\(prefix)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        return String(cString: made)
    }

    /// Removes a data directory a jobsd used, and first the cgroups that jobsd left (one killed
    /// with SIGKILL removes none of them; see `JobEngine.discardCgroups`).
    public static func remove(_ dataDirectory: String) {
        JobEngine.discardCgroups(dataDirectory: dataDirectory)
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }
}
