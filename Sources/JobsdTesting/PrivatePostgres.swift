import Foundation
import JobsdCore

/// A PostgreSQL server of one test's own (initdb into a temp dir, a free loopback port), for what
/// the shared test server cannot do: being stopped and started again under running nodes. Uses
/// the binaries scripts/with-postgres.sh found (`JOBSD_TEST_POSTGRES_BIN`); run as the `postgres`
/// user when the tests run as root. `remove()` stops it and deletes its directory.
public final class PrivatePostgres: Sendable {
    public let url: String
    let directory: String
    let bin: String
    let port: Int

    public static func start() async throws -> PrivatePostgres {
        guard let bin = ProcessInfo.processInfo.environment["JOBSD_TEST_POSTGRES_BIN"] else {
            throw TestHarnessError("JOBSD_TEST_POSTGRES_BIN is not set: run the tests with scripts/test.sh")
        }
        let directory = try TemporaryDirectory.make(prefix: "jobsd-private-pg")
        chmod(directory, 0o755)
        if getuid() == 0, let user = getpwnam("postgres") { chown(directory, user.pointee.pw_uid, user.pointee.pw_gid) }
        let server = PrivatePostgres(directory: directory, bin: bin, port: try freePort())
        try await server.run(["\(bin)/initdb", "-D", "\(directory)/data", "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
        try await server.startServer()
        return server
    }

    private init(directory: String, bin: String, port: Int) {
        self.directory = directory
        self.bin = bin
        self.port = port
        url = "postgres://postgres@127.0.0.1:\(port)/postgres"
    }

    /// Starts the server (again, on the same port) and returns once it accepts connections.
    public func startServer() async throws {
        try await run([
            "\(bin)/pg_ctl", "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "60",
            "-o", "-c listen_addresses=127.0.0.1 -p \(port) -c unix_socket_directories=\(directory) -c fsync=off", "start",
        ])
    }

    /// Stops the server (`pg_ctl -m fast`: connections are closed at once).
    public func stopServer() async throws {
        try await run(["\(bin)/pg_ctl", "-D", "\(directory)/data", "-m", "fast", "-w", "stop"])
    }

    public func remove() async {
        try? await run(["\(bin)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func run(_ argv: [String]) async throws {
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

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestHarnessError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
