import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// The cgroup roots other jobsd runs left beside a starting jobsd's (test runs and crashes leave
/// one per data directory): a starting jobsd removes those whose owner is dead and that hold no
/// process, and nothing else.
@Suite struct StaleCgroupRootTests {
    @Test func aStartingJobsd_RemovesEmptyRootsOfDeadOwners_AndKeepsLiveYoungAndPopulatedOnes() async throws {
        let dataA = try TemporaryDirectory.make(prefix: "jobsd-stale-a")
        defer { TemporaryDirectory.remove(dataA) }
        let a = try await JobsdProcess.start(dataDirectory: dataA, arguments: ["--containment", "cgroup"])
        let job = try await a.client().submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 600"]))
        try await a.client().waitForOutput(job.id, "ready")
        let pid = try #require(try await a.client().job(job.id).pid)
        let jobCgroup = try #require(CgroupFiles(pid: pid).directory("v2 only"))
        let rootA = (jobCgroup as NSString).deletingLastPathComponent
        let parent = (rootA as NSString).deletingLastPathComponent
        // A marks its root as its own: owner.<its pid>.<its start time>.
        let marks = try FileManager.default.contentsOfDirectory(atPath: rootA).filter { $0.hasPrefix("owner.") }
        #expect(marks.count == 1 && marks[0].hasPrefix("owner.\(a.child.pid)."), "\(marks)")

        // Siblings: a dead owner's empty root, a live owner's (A's mark), an unmarked young one,
        // and a dead owner's root with a live process in it.
        let tag = UUID().uuidString.prefix(8).lowercased()
        let dead = parent + "/jobsd-test-dead-\(tag)"
        let live = parent + "/jobsd-test-live-\(tag)"
        let young = parent + "/jobsd-test-young-\(tag)"
        let busy = parent + "/jobsd-test-busy-\(tag)"
        let deadMark = "owner.\(try await exitedPid()).1"
        for (dir, children) in [(dead, [deadMark, "01JOBOFADEADRUN"]), (live, [marks[0]]), (young, []), (busy, [deadMark, "01BUSY"])] {
            #expect(mkdir(dir, 0o755) == 0, "mkdir \(dir): \(errno)")
            for child in children { #expect(mkdir(dir + "/" + child, 0o755) == 0) }
        }
        let sleeper = try ChildProcess.spawn(argv: ["/bin/sleep", "600"], env: nil)
        defer {
            sleeper.signal(SIGKILL)
            [dead, live, young, busy].forEach(Self.removeCgroup)
        }
        let procs = open(busy + "/01BUSY/cgroup.procs", O_WRONLY)
        #expect(procs >= 0 && write(procs, "\(sleeper.pid)", "\(sleeper.pid)".utf8.count) > 0, "cannot move the sleeper: \(errno)")
        close(procs)

        // B starts beside them; once its pass is done (its log says so) only the dead one is gone.
        let dataB = try TemporaryDirectory.make(prefix: "jobsd-stale-b")
        defer { TemporaryDirectory.remove(dataB) }
        let b = try await JobsdProcess.start(dataDirectory: dataB, arguments: ["--containment", "cgroup"])
        try await eventually("B's stale-root pass", timeout: 120) { b.log.contains("stale cgroup roots of other jobsd runs checked") }
        print("StaleCgroupRootTests: B's pass: \(b.log.split(separator: "\n").filter { $0.contains("stale cgroup roots") })")
        #expect(access(dead, F_OK) != 0, "the dead owner's empty root is still there")
        #expect(access(live, F_OK) == 0 && access(young, F_OK) == 0 && access(busy + "/01BUSY", F_OK) == 0)
        #expect(access(rootA, F_OK) == 0 && access(jobCgroup, F_OK) == 0)
        #expect(try await a.client().job(job.id).state == .running)
        sleeper.signal(SIGKILL)
        _ = await sleeper.wait()
        for dir in [live, young, busy] {
            Self.removeCgroup(dir)
            #expect(access(dir, F_OK) != 0, "\(dir) could not be removed")
        }
        #expect(try await a.client().cancel(job.id, wait: 30).state == .cancelled)
        _ = await b.stop()
        _ = await a.stop()
    }

    /// Removes the (empty) cgroups below `dir`, then `dir`.
    static func removeCgroup(_ dir: String) {
        for child in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + child, isDirectory: &isDirectory), isDirectory.boolValue { rmdir(dir + "/" + child) }
        }
        rmdir(dir)
    }

    /// The pid of a process that has exited (and been reaped).
    private func exitedPid() async throws -> Int32 {
        let child = try ChildProcess.spawn(argv: ["/bin/true"], env: nil)
        _ = await child.wait()
        return child.pid
    }
}
