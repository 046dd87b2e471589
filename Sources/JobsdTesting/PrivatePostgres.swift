import Foundation
import JobsdCore

/// A PostgreSQL server of one test's own (initdb into a temp dir, a free loopback port), for what
/// the shared test server cannot do: being stopped and started again under running nodes. Uses
/// the binaries scripts/with-postgres.sh found (`JOBSD_TEST_POSTGRES_BIN`); run as the `postgres`
/// user when the tests run as root. `remove()` stops it and deletes its directory.
///
/// A test run killed from outside (SIGKILL, a CI timeout) never calls `remove()`: its servers
/// would run on. So the owner holds a `flock` on `<directory>/owner.lock` while it lives (the
/// kernel drops it when the process dies, whatever pid comes next), and every `start` first
/// stops (`pg_ctl -m immediate`) and deletes the servers whose owner is gone (`removeLeftovers`).
public final class PrivatePostgres: Sendable {
    public let url: String
    let directory: String
    let bin: String
    let port: Int
    /// The open `owner.lock`, locked for this process's life (closed by `remove()`).
    private let ownerLock: Int32

    /// The directories' name prefix under the system temp dir.
    static let prefix = "jobsd-private-pg"
    /// How old a directory without `owner.lock` (made before the lock existed) must be before it
    /// counts as left behind: no test keeps its server this long.
    static let unmarkedAge: TimeInterval = 3600

    public static func start() async throws -> PrivatePostgres {
        guard let bin = ProcessInfo.processInfo.environment["JOBSD_TEST_POSTGRES_BIN"] else {
            throw TestHarnessError("JOBSD_TEST_POSTGRES_BIN is not set: run the tests with scripts/test.sh")
        }
        await removeLeftovers(bin: bin)
        let directory = try TemporaryDirectory.make(prefix: prefix)
        let lock = open(directory + "/owner.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else { throw TestHarnessError("cannot lock \(directory)/owner.lock") }
        _ = "\(getpid())\n".withCString { write(lock, $0, strlen($0)) }  // for a reader; the lock decides
        chmod(directory, 0o755)
        if getuid() == 0, let user = getpwnam("postgres") { chown(directory, user.pointee.pw_uid, user.pointee.pw_gid) }
        // The port stays reserved until the server listens on it (PostgreSQL sets SO_REUSEADDR),
        // so no other process of the test run takes it meanwhile.
        let reservation = try PortReservation()
        defer { reservation.release() }
        let server = PrivatePostgres(directory: directory, bin: bin, port: reservation.port, ownerLock: lock)
        try await server.run(["\(bin)/initdb", "-D", "\(directory)/data", "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
        try await server.startServer()
        return server
    }

    private init(directory: String, bin: String, port: Int, ownerLock: Int32) {
        self.directory = directory
        self.bin = bin
        self.port = port
        self.ownerLock = ownerLock
        url = "postgres://postgres@127.0.0.1:\(port)/postgres"
    }

    /// Stops and deletes the private servers left by test processes that are gone: directories
    /// whose `owner.lock` this process can lock (none holds it), or that have none and are older
    /// than `unmarkedAge`. A directory in use (by this process or a running one) is never
    /// touched.
    private static func removeLeftovers(bin: String) async {
        var base = NSTemporaryDirectory()
        while base.count > 1, base.hasSuffix("/") { base.removeLast() }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        for name in names where name.hasPrefix(prefix + "-") {
            let directory = base + "/" + name
            let lock = open(directory + "/owner.lock", O_RDONLY | O_CLOEXEC)
            defer { if lock >= 0 { close(lock) } }
            if lock >= 0 {
                guard flock(lock, LOCK_EX | LOCK_NB) == 0 else { continue }  // its owner lives
            } else {
                let made = (try? FileManager.default.attributesOfItem(atPath: directory)[.modificationDate] as? Date) ?? Date()
                guard Date().timeIntervalSince(made) > unmarkedAge else { continue }
            }
            if FileManager.default.fileExists(atPath: directory + "/data/postmaster.pid") {
                try? await run(["\(bin)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-w", "stop"], logIn: directory)
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Starts the server (again, on the same port) and returns once it accepts connections; throws
    /// with the server's log when it does not come up.
    public func startServer() async throws {
        do {
            try await run([
                "\(bin)/pg_ctl", "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "60",
                "-o", "-c listen_addresses=127.0.0.1 -p \(port) -c unix_socket_directories=\(directory) -c fsync=off", "start",
            ])
        } catch {
            let log = (try? String(contentsOfFile: "\(directory)/server.log", encoding: .utf8)) ?? ""
            throw TestHarnessError("\(error)\nserver.log:\n\(log)")
        }
    }

    /// Stops the server (`pg_ctl -m fast`: connections are closed at once).
    public func stopServer() async throws {
        try await run(["\(bin)/pg_ctl", "-D", "\(directory)/data", "-m", "fast", "-w", "stop"])
    }

    /// Drops the owner lock as the death of this process would, leaving the server running: what
    /// a killed test run leaves behind (for the test of `removeLeftovers`).
    /// `remove()` may still follow (the descriptor becomes /dev/null, so it closes only that).
    public func abandon() {
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        dup2(null, ownerLock)
        close(null)
    }

    /// The server's process (the first line of its `postmaster.pid`), nil when it is not running.
    public var postmaster: pid_t? {
        let text = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8)
        return text.flatMap { pid_t($0.prefix { $0 != "\n" }) }
    }

    public var isRemoved: Bool { !FileManager.default.fileExists(atPath: directory) }

    public func remove() async {
        try? await run(["\(bin)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
        close(ownerLock)
    }

    private func run(_ argv: [String]) async throws { try await Self.run(argv, logIn: directory) }

    /// Runs a PostgreSQL tool (as `postgres` when root), its output appended to `directory`'s
    /// `ctl.log`; throws with that log when it fails.
    private static func run(_ argv: [String], logIn directory: String) async throws {
        let command = getuid() == 0 ? ["runuser", "-u", "postgres", "--"] + argv : argv
        let log = open("\(directory)/ctl.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o666)
        defer { close(log) }
        let child = try ChildProcess.spawn(argv: command, stdout: log, stderr: log)
        let status = await child.wait()
        guard status.exitCode == 0 else {
            let text = (try? String(contentsOfFile: "\(directory)/ctl.log", encoding: .utf8)) ?? ""
            throw TestHarnessError("\(argv.first ?? "") failed (\(status)):\n\(text)")
        }
    }
}
