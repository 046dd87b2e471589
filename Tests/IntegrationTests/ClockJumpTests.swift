import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// Issue #22: the wall clock jumps an hour forward or back under a running jobsd (libfaketime with
/// `FAKETIME_DONT_FAKE_MONOTONIC=1`: only the wall clock moves). Deadlines and long-poll limits run
/// on the monotonic clock, so neither fires early nor late; API timestamps stay wall-clock.
@Suite struct ClockJumpTests {
    static let libfaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

    @Test(arguments: ["+1h", "-1h"])
    func aWallClockJump_NeitherFiresADeadlineEarly_NorDelaysIt(jump: String) async throws {
        guard FileManager.default.fileExists(atPath: Self.libfaketime) else {
            throw TestFailure("\(Self.libfaketime) is missing: install Debian's faketime (scripts/test.sh does)")
        }
        let dir = try TemporaryDirectory.make(prefix: "jobsd-clock")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let offset = dir + "/faketime"
        try "+0\n".write(toFile: offset, atomically: true, encoding: .utf8)
        // FAKETIME_SHARED must be set: without it libfaketime 0.9.10's start-up (it then creates
        // its own shared semaphore and publishes it in the environment) leaves a Swift program's
        // `CommandLine.arguments` empty — `LD_PRELOAD=libfaketime.so.1 FAKETIME=+1h ./args a b`
        // prints `[]` — and jobsd would run on its default port and data directory. The
        // `faketime` command sets it, which is why jobsd works under `faketime` but not under a
        // bare LD_PRELOAD. A name that opens no semaphore is enough; the offset comes from the file.
        let jobsd = try await JobsdProcess.start(dataDirectory: dir + "/data", env: [
            "LD_PRELOAD": Self.libfaketime, "FAKETIME_TIMESTAMP_FILE": offset, "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_SHARED": "/jobsd-none /jobsd-none",
        ])
        defer { jobsd.child.signal(SIGKILL) }
        let client = jobsd.client()
        // It ignores SIGTERM, so its end also waits out the grace period (1 s) before SIGKILL.
        let script = "trap '' TERM; echo ready; while :; do sleep 0.2; done"
        // 30 s: the jump must land while the job runs, also when this test process is starved for
        // seconds by the suite's other tests on a loaded machine (a 10 s deadline once passed
        // before the test got to write the jump).
        let job = try await client.submit(JobSpec(command: ["sh", "-c", script], timeoutSeconds: 30, graceSeconds: 1))
        try await client.waitForOutput(job.id, "ready")

        try "\(jump)\n".write(toFile: offset, atomically: true, encoding: .utf8)
        // On the wall clock the deadline would have passed an hour ago (+1h), and a 1 s long-poll
        // would last an hour (-1h).
        #expect(try await client.wait(job.id, timeout: 1).state == .running)
        // On the wall clock the deadline and then the grace period would end an hour late (-1h).
        let done = try await client.wait(job.id, timeout: 90)
        #expect(done.state == .timedOut)
        #expect(done.signal == "SIGKILL", "the grace period ended and SIGKILL followed")
        #expect(processesAlive(markedWith: job.id).isEmpty)
        // Timestamps are wall-clock: they show the jump.
        let wall = try #require(done.startedAt).seconds(until: try #require(done.finishedAt))
        #expect(jump.hasPrefix("+") ? wall > 3000 : wall < -3000, "finished_at - started_at = \(wall) s")
    }
}
