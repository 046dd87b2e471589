import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// jobsd as PID 1 of a PID namespace, as in a container: signals handled, orphans reaped.
@Suite struct PIDOneTests {
    /// Whether this machine lets us create a PID namespace (containers without CAP_SYS_ADMIN don't).
    static func pidNamespacesPermitted() async -> Bool {
        guard let child = try? ChildProcess.spawn(argv: ["unshare", "--pid", "--fork", "--mount-proc", "true"],
                                                  env: ["PATH": "/usr/bin:/bin"]) else { return false }
        return await child.wait().exitCode == 0
    }

    /// Children of `pid` (from /proc/<pid>/task/*/children).
    static func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0) }
        }
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }

    @Test func asPID1_ItReapsOrphans_AndExits0OnSIGTERM() async throws {
        guard await Self.pidNamespacesPermitted() else {
            print("PIDOneTests: this machine does not permit PID namespaces (unshare --pid); the PID 1 test cannot run here")
            return
        }
        let data = try TemporaryDirectory.make(prefix: "jobsd-pid1")
        defer { TemporaryDirectory.remove(data) }
        let log = data + "/stderr.log"
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let unshare = try ChildProcess.spawn(
            argv: ["unshare", "--pid", "--fork", "--mount-proc", try JobsdProcess.executable("jobsd"), "--port", "0",
                   "--data-dir", data + "/data", "--shutdown-timeout", "5s"],
            env: ["PATH": "/usr/bin:/bin"], stdout: fd, stderr: fd)
        close(fd)
        defer { unshare.signal(SIGKILL) }
        var port: Int?
        for _ in 0..<3000 where port == nil {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let r = text.range(of: "listening host="), let p = text[r.upperBound...].range(of: "port=") {
                port = Int(text[p.upperBound...].prefix { $0.isNumber })
            }
            if unshare.exitStatus != nil { break }
            if port == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let listening = try #require(port, "jobsd did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        let jobsdPID = try #require(Self.children(of: unshare.pid).first)
        let client = JobsdClient(baseURL: "http://127.0.0.1:\(listening)")
        // The job double-forks an orphan and exits: inside the namespace the orphan's new parent is jobsd.
        let job = try await client.submit(JobSpec(command: ["sh", "-c", "(sleep 300 &); (true &); echo done"]))
        let done = try await client.wait(job.id)
        #expect(done.state == .succeeded)
        #expect(processesAlive(markedWith: job.id).isEmpty, "the orphan was killed with its job")
        #expect(Self.children(of: jobsdPID).filter(Self.isZombie).isEmpty, "no zombie children of PID 1")
        kill(jobsdPID, SIGTERM)
        let status = await unshare.wait()
        #expect(status.exitCode == 0, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }
}
