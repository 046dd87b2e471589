import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// Schedules on PostgreSQL with two nodes: both see every schedule, and each tick runs once
/// cluster-wide (each node claims ticks with `UPDATE … WHERE next_run_at = <tick>`).
@Suite struct ScheduleClusterTests {
    @Test func twoNodesOnOneDatabase_RunEachTickOnce() async throws {
        let cluster = try await Cluster.start(nodes: 2)
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        let job = JobSpec(command: ["sh", "-c", "echo $JOBSD_JOB_ID >> \(scratch)/ran"])
        let created = try await cluster.clients[0].createSchedule(json: scheduleJSON(cron: "*/2 * * * * *", job: job, overlap: .queue))
        // The other node learns of it within its resync (5 s) and races for every tick from then on.
        try await eventually("node 1 sees the schedule") { try await cluster.clients[1].schedules().map(\.id) == [created.id] }
        let runs = try await cluster.clients[1].waitForRuns(of: created.id, atLeast: 8, timeout: 90)
        let observed = Timestamp.now()
        _ = try await cluster.clients[1].setSchedulePaused(created.id, true)
        // Every tick of the window at most once: never more runs than even seconds since creation.
        let ticks = (created.createdAt.milliseconds / 1000 + 1...observed.milliseconds / 1000).filter { $0 % 2 == 0 }.count
        let all = try await cluster.clients[0].scheduleRuns(created.id, limit: 1000)
        #expect(all.count <= ticks, "\(all.count) runs for \(ticks) ticks")
        let gaps = zip(all.dropFirst(), all).map { $0.1.createdAt.seconds(until: $0.0.createdAt) }
        #expect(gaps.allSatisfy { abs($0) > 0.9 }, "no tick ran twice (runs 2 s apart): \(gaps)")
        for run in runs { #expect(try await cluster.clients[0].wait(run.id, timeout: 30).state == .succeeded) }
        let lines = try String(contentsOfFile: "\(scratch)/ran", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == Set(lines).count, "each run ran once")
    }
}
