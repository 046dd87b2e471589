import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// Running jobs as another user (`--job-user`, `--allow-users`, a job's `user`) through the real
/// server. Switching users needs root: as root (CI) the test creates a system user for itself;
/// otherwise it says so and checks instead that jobsd refuses to start with a job user.
@Suite struct JobUserTests {
    static let userName = "jobsd-test-user"

    /// Creates the test's system user unless it exists (root only).
    static func ensureUser() async throws {
        if getpwnam(userName) != nil { return }
        let child = try ChildProcess.spawn(argv: ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", userName])
        let status = await child.wait()
        #expect(status.exitCode == 0 || getpwnam(userName) != nil, "useradd failed: \(status)")
    }

    @Test func aJobNamingAnAllowedUser_RunsAsIt_AndItsWorkdirAndLogsAreItsOwn() async throws {
        guard geteuid() == 0 else {
            print("JobUserTests: not root (uid \(geteuid())), so no user can be created or switched to; checking that --job-user refuses to start instead")
            do {
                try await TestServer.with({ $0.engine.jobUser = "nobody" }) { _ in Issue.record("started with --job-user as non-root") }
            } catch {
                #expect("\(error)".contains("need jobsd to run as root"))
            }
            return
        }
        try await Self.ensureUser()
        let script = #"id -un; stat -c %U "$HOME"; echo x > file; stat -c %U "$HOME/file"; echo "$USER""#
        try await TestServer.with({ $0.engine.allowedUsers = [Self.userName] }) { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["sh", "-c", script], user: Self.userName))
            #expect(job.user == Self.userName, "the job shows its user")
            #expect(try await client.wait(job.id).state == .succeeded)
            let name = Self.userName
            #expect(try await client.logs(job.id).text == "\(name)\n\(name)\n\(name)\n\(name)\n")
            var st = stat()
            #expect(stat(server.dataDirectory + "/logs/\(job.id)/data", &st) == 0)
            #expect(st.st_uid == getpwnam(name).pointee.pw_uid)

            // Without `user`: jobsd's own (root); another name: 400 naming the field.
            let own = try await client.submit(JobSpec(command: ["id", "-un"]))
            #expect(own.user == nil)
            _ = try await client.wait(own.id)
            #expect(try await client.logs(own.id).text == "root\n")
            let refused = try await server.send("POST", "/v1/jobs", body: #"{"command":["id"],"user":"daemon"}"#)
            #expect(refused.status == 400)
            #expect(try decodeProblem(refused).field == "user")
        }
        // --job-user: jobs that name no user run as it; capabilities say so.
        try await TestServer.with({ $0.engine.jobUser = Self.userName }) { server in
            let job = try await server.submit(JobSpec(command: ["id", "-un"]))
            #expect(job.user == Self.userName, "a job that names no user shows --job-user")
            _ = try await server.client().wait(job.id)
            #expect(try await server.client().logs(job.id).text == "\(Self.userName)\n")
            let capabilities = try JSONValue.parse(try await server.send("GET", "/v1/capabilities").body)
            #expect(capabilities["users"]?["default"] == .string(Self.userName))
        }
        do {
            try await TestServer.with({ $0.engine.jobUser = "no-such-user-jobsd" }) { _ in Issue.record("started with an unknown --job-user") }
        } catch {
            #expect("\(error)".contains("no user named 'no-such-user-jobsd'"))
        }
    }
}
