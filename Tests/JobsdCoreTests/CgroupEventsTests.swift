import Foundation
@testable import JobsdCore
import Testing

extension EngineTests {
    /// The ladder's wait for `populated 0` is woken by the kernel's notification, not only by its
    /// poll: here nothing polls, so the only wake-ups are `CgroupEvents`' (a notification may be
    /// held back up to 10 ms by the kernel, hence the generous bound, which is no timing claim).
    @Test func aCgroupsLastProcessExiting_WakesItsObserver() async throws {
        let dir = NSTemporaryDirectory() + "jobsd-cgroup-events-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tree = try CgroupTree.prepare(dataDirectory: dir)
        defer { tree.removeIfEmpty() }
        let cgroup = try tree.create("events")
        defer { cgroup.release() }
        // Only the observation bumps this watch's generation (no process reports to it).
        let wakes = ProcessWatch()
        let stop = try #require(cgroup.observe(wakes.treeChanged), "inotify is not available")
        defer { stop() }

        // The first process entering: `populated 1`, notified.
        var options = SpawnOptions()
        options.cgroup = cgroup.fd
        let path = try JobEnvironment.resolve("sleep", path: JobEnvironment.basePATH)
        let empty = wakes.snapshot.generation
        let (pid, _) = try Reaper.shared.spawn(
            path: path, argv: ["sleep", "1000"], env: [], cwd: nil, stdin: 0, stdout: 1, stderr: 2, options: options, onExit: { _ in })
        await wakes.wait(after: empty, timeout: 60)
        try #require(wakes.snapshot.generation != empty, "no notification of populated 1 within 60 s")
        #expect(cgroup.isPopulated)

        // The last one leaving: `populated 0`, notified (at the end of the kernel's 10 ms interval).
        let populated = wakes.snapshot.generation
        kill(pid, SIGKILL)
        await wakes.wait(after: populated, timeout: 60)
        try #require(wakes.snapshot.generation != populated, "no notification of populated 0 within 60 s")
        #expect(!cgroup.isPopulated)
        #expect(cgroup.members().isEmpty)
    }
}
