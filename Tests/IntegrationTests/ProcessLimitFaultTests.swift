import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// Issue #22: no process can be created (`EAGAIN` from `clone`). A real jobsd in a cgroup of the
/// pids controller whose `pids.max` the test lowers to what jobsd holds and raises again. As root,
/// `RLIMIT_NPROC` does not apply; a cgroup's pids limit does.
@Suite struct ProcessLimitFaultTests {
    @Test func aJobStartedWithNoProcessLeft_FailsNamingTheCause_AndTheServerServesOn() async throws {
        let cgroup = try PidsCgroup.make()
        defer { cgroup.remove() }
        let dir = try TemporaryDirectory.make(prefix: "jobsd-pids")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // jobsd enters the cgroup before it starts: its threads and every job it spawns count.
        let jobsd = try await JobsdProcess.start(
            dataDirectory: dir + "/data", launcher: ["sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", cgroup.path + "/cgroup.procs"])
        do {
            try await Self.spawnWithNoProcessLeft(jobsd, cgroup)
        } catch {
            await Self.stop(jobsd)
            throw error
        }
        await Self.stop(jobsd)
    }

    private static func spawnWithNoProcessLeft(_ jobsd: JobsdProcess, _ cgroup: PidsCgroup) async throws {
        let client = jobsd.client()
        // Jobs side by side first, so that jobsd has made the threads it runs them with.
        var warmUp: [Job] = []
        for _ in 0..<8 { warmUp.append(try await client.submit(JobSpec(command: ["sh", "-c", "sleep 0.2"]))) }
        for job in warmUp { #expect(try await client.wait(job.id, timeout: 30).state == .succeeded) }

        try cgroup.limit(to: cgroup.current())
        let job = try await client.submit(JobSpec(command: ["sh", "-c", "echo never"]))
        let failed = try await client.wait(job.id, timeout: 30)
        #expect(failed.state == .failed)
        #expect(failed.error?.contains("Resource temporarily unavailable") == true, "error: \(failed.error ?? "nil")")
        #expect(failed.pid == nil)
        #expect(try await client.events(job.id).map(\.type).contains(.spawnFailed))
        #expect(processesAlive(markedWith: job.id).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: jobsd.dataDirectory + "/work/" + job.id))

        // Processes come back: the server serves on and the next job runs.
        try cgroup.limit(to: nil)
        let next = try await client.submit(JobSpec(command: ["sh", "-c", "echo again"]))
        #expect(try await client.wait(next.id, timeout: 30).state == .succeeded)
        #expect(String(decoding: try await client.logs(next.id).bytes, as: UTF8.self) == "again\n")
    }

    /// Kills jobsd and waits until it is gone, so that its cgroup is empty.
    private static func stop(_ jobsd: JobsdProcess) async {
        jobsd.child.signal(SIGKILL)
        _ = await jobsd.waitForExit()
    }
}

/// A cgroup of the pids controller (cgroup v1's `/sys/fs/cgroup/pids`, as on this machine's
/// hybrid layout) made for one test. Without it (no root, no v1 pids hierarchy) `make` throws
/// naming the cause: the test fails, it never skips.
private struct PidsCgroup {
    let path: String

    static func make() throws -> PidsCgroup {
        let root = "/sys/fs/cgroup/pids"
        guard FileManager.default.fileExists(atPath: root + "/cgroup.procs") else {
            throw TestFailure("no cgroup v1 pids hierarchy at \(root): this test needs it (and root) to limit jobsd's processes")
        }
        let path = root + "/jobsd-test-\(UUID().uuidString.prefix(8))"
        guard mkdir(path, 0o755) == 0 else { throw TestFailure("mkdir \(path): \(String(cString: strerror(errno)))") }
        return PidsCgroup(path: path)
    }

    /// Processes and threads in the cgroup now.
    func current() throws -> Int {
        let text = try String(contentsOfFile: path + "/pids.current", encoding: .utf8)
        guard let n = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw TestFailure("pids.current: \(text)") }
        return n
    }

    /// Sets `pids.max` (nil: no limit).
    func limit(to max: Int?) throws {
        try (max.map(String.init) ?? "max").write(toFile: path + "/pids.max", atomically: false, encoding: .utf8)
    }

    /// Removes the cgroup, empty once jobsd is gone, with the cgroups jobsd made inside it (its
    /// job cgroups' root in this hierarchy), deepest first.
    func remove() {
        let inside = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String]) ?? []
        var directories: [String] = []
        for name in inside {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory), isDirectory.boolValue {
                directories.append(path + "/" + name)
            }
        }
        for directory in directories.sorted(by: { $0.count > $1.count }) { rmdir(directory) }
        rmdir(path)
    }
}
