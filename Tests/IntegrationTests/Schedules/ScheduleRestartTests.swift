import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// Schedules across a `kill -9` of jobsd and a restart on the same data dir: they survive, and a
/// downtime over several ticks gives exactly one catch-up run, not a burst.
@Suite struct ScheduleRestartTests {
    @Test func aSchedule_SurvivesARestart_WithItsStateAndNextTick() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-sched")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try await JobsdProcess.start(dataDirectory: data)
        let yearly = try await first.client().createSchedule(json: scheduleJSON(
            name: "new-year", cron: "0 0 1 1 *", timezone: "America/New_York",
            job: JobSpec(command: ["echo", "happy"], env: ["A": "b"], timeoutSeconds: 30), overlap: .cancelPrevious))
        let paused = try await first.client().setSchedulePaused(
            try await first.client().createSchedule(json: scheduleJSON(name: "held", cron: "@hourly")).id, true)
        await first.signal(SIGKILL)

        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        #expect(try await second.client().schedules() == [yearly, paused])
    }

    @Test func aDowntimeOverSeveralTicks_GivesExactlyOneCatchUpRun_ThenTheGrid() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-sched")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try await JobsdProcess.start(dataDirectory: data)
        // Four ticks 8-11 s from now (seconds field), every minute; jobsd is down for all of them.
        let start = Int(Date().timeIntervalSince1970)
        let seconds = (8...11).map { String((start + $0) % 60) }.joined(separator: ",")
        let schedule = try await first.client().createSchedule(json: scheduleJSON(cron: "\(seconds) * * * * *", overlap: .queue))
        await first.signal(SIGKILL)
        try await eventually("the downtime covers the four ticks", timeout: 30) { Date().timeIntervalSince1970 >= Double(start + 12) }

        let restartedAt = Timestamp.now()
        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        let client = second.client()
        _ = try await client.waitForRuns(of: schedule.id, atLeast: 1)
        var after = try await client.schedule(schedule.id)
        try await eventually("the run is recorded on the schedule") {
            after = try await client.schedule(schedule.id)
            return after.lastJobID != nil
        }
        let runs = try await client.scheduleRuns(schedule.id)
        #expect(runs.count == 1, "one catch-up run, not four: \(runs.map(\.createdAt))")
        #expect(runs.allSatisfy { $0.createdAt >= restartedAt }, "nothing ran before the kill")
        #expect(after.lastJobID == runs.first?.id)
        // Back on the grid: the next tick is the first of the next minute's four.
        #expect(try #require(after.nextRunAt) >= Timestamp(milliseconds: Int64(start + 68) * 1000))
        #expect(try await client.wait(runs[0].id, timeout: 30).state == .succeeded)
    }
}
