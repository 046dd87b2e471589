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
        // Four ticks 15-18 s from now (seconds field), every minute; jobsd is killed before them
        // (on a loaded machine a tick may come before the kill: the test then counts only the
        // ticks of the downtime, and needs at least two of them).
        let start = Int(Date().timeIntervalSince1970)
        let seconds = (15...18).map { String((start + $0) % 60) }.joined(separator: ",")
        let schedule = try await first.client().createSchedule(json: scheduleJSON(cron: "\(seconds) * * * * *", overlap: .queue))
        await first.signal(SIGKILL)
        let killedAt = Timestamp.now()
        try #require(killedAt < Timestamp(milliseconds: Int64(start + 17) * 1000), "the downtime must cover at least two ticks")
        try await eventually("the downtime covers the ticks", timeout: 40) { Date().timeIntervalSince1970 >= Double(start + 19) }

        let restartedAt = Timestamp.now()
        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        let client = second.client()
        var after = try await client.schedule(schedule.id)
        try await eventually("the catch-up run is recorded on the schedule") {
            after = try await client.schedule(schedule.id)
            return after.lastRunAt.map { $0 >= restartedAt } == true && after.lastJobID != schedule.lastJobID
        }
        let runs = try await client.scheduleRuns(schedule.id).filter { $0.createdAt >= restartedAt }
        #expect(runs.count == 1, "one catch-up run for the missed ticks, not one each: \(runs.map(\.createdAt))")
        #expect(after.lastJobID == runs.first?.id)
        // Back on the grid: the next tick is the first of the next minute's four.
        #expect(try #require(after.nextRunAt) >= Timestamp(milliseconds: Int64(start + 75) * 1000))
        #expect(try await client.wait(runs[0].id, timeout: 30).state == .succeeded)
    }
}
