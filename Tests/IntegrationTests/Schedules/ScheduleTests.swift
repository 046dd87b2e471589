import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// Periodic jobs through the real server (`/v1/schedules`): runs, overlap rules, pause, resume,
/// delete and validation. The schedules tick every second (the optional seconds field).
@Suite struct ScheduleTests {
    @Test func aCreatedSchedule_IsAnsweredWithItsFields_AndItsNextTickInItsZone() async throws {
        try await TestServer.with { server in
            let body = scheduleJSON(name: "morning", cron: "0 9 * * MON-FRI", timezone: "Europe/Berlin", job: JobSpec(command: ["echo", "hi"]))
            let response = try await server.send("POST", "/v1/schedules", body: body)
            #expect(response.status == 201)
            let schedule = try JSONDecoder().decode(Schedule.self, from: Data(response.body))
            #expect(response.header("Location") == "/v1/schedules/\(schedule.id)")
            #expect(schedule.name == "morning" && schedule.cron == "0 9 * * MON-FRI" && schedule.timezone == "Europe/Berlin")
            #expect(schedule.job == JobSpec(command: ["echo", "hi"]))
            #expect(schedule.overlap == .skip && !schedule.paused && schedule.lastRunAt == nil && schedule.lastJobID == nil)
            let plan = try SchedulePlan(cron: "0 9 * * MON-FRI", timezone: "Europe/Berlin")
            #expect(schedule.nextRunAt == plan.next(after: schedule.createdAt))
            #expect(try await server.client().schedule(schedule.id) == schedule)
            #expect(try await server.client().schedules() == [schedule])

            let defaults = try await server.client().createSchedule(json: scheduleJSON(cron: "@daily"))
            #expect(defaults.timezone == "UTC" && defaults.overlap == .skip)
            #expect(try await server.client().schedules().map(\.id) == [schedule.id, defaults.id], "oldest first")
        }
    }

    @Test func eachTick_SubmitsAnOrdinaryJob_ThatCarriesTheScheduleID() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let plain = try await client.submit(JobSpec(command: ["true"]))
            let schedule = try await client.createSchedule(json: scheduleJSON(job: JobSpec(command: ["true"], labels: ["kind": "tick"]), overlap: .queue))
            let runs = try await client.waitForRuns(of: schedule.id, atLeast: 2)
            #expect(runs.allSatisfy { $0.scheduleID == schedule.id && $0.labels == ["kind": "tick"] && $0.command == ["true"] })
            #expect(!runs.contains { $0.id == plain.id }, "?schedule= lists only that schedule's runs")
            #expect(try await client.job(plain.id).scheduleID == nil)
            let done = try await client.wait(runs.last!.id, timeout: 30)
            #expect(done.state == .succeeded && done.scheduleID == schedule.id)
            let raw = try await server.send("GET", "/v1/jobs/\(done.id)")
            #expect(String(decoding: raw.body, as: UTF8.self).contains("\"schedule_id\":\"\(schedule.id)\""))
            let seen = try await client.schedule(schedule.id)
            #expect(seen.lastRunAt != nil && seen.lastJobID != nil)
            #expect(try #require(seen.nextRunAt) > (try #require(seen.lastRunAt)))
            _ = try await client.deleteSchedule(schedule.id)
        }
    }

    @Test func overlapSkip_SubmitsNothing_WhileThePreviousRunIsNotTerminal() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let flag = try scratchDirectory() + "/done"
            let schedule = try await client.createSchedule(json: scheduleJSON(job: jobEndingWhen(flag), overlap: .skip))
            let first = try #require(try await client.waitForRuns(of: schedule.id, atLeast: 1).first)
            // Three more ticks pass (the schedule's next tick moves on) while the first run goes on.
            try await eventually("three more ticks") {
                try await client.schedule(schedule.id).nextRunAt! >= first.createdAt.adding(seconds: 4)
            }
            #expect(try await client.scheduleRuns(schedule.id).map(\.id) == [first.id])
            #expect(try await client.job(first.id).state != .succeeded)
            _ = FileManager.default.createFile(atPath: flag, contents: nil)
            #expect(try await client.wait(first.id, timeout: 30).state == .succeeded)
            let runs = try await client.waitForRuns(of: schedule.id, atLeast: 2)
            #expect(runs.last?.id == first.id, "a new run once the previous one ended")
            _ = try await client.setSchedulePaused(schedule.id, true)
        }
    }

    @Test func overlapQueue_SubmitsEachTick_AndTheRunsWaitForThePreviousOne() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let flag = try scratchDirectory() + "/done"
            let schedule = try await client.createSchedule(json: scheduleJSON(job: jobEndingWhen(flag), overlap: .queue))
            _ = try await client.waitForRuns(of: schedule.id, atLeast: 3)
            _ = try await client.setSchedulePaused(schedule.id, true)
            let runs = try await client.scheduleRuns(schedule.id)
            #expect(runs.allSatisfy { $0.concurrencyKey == "schedule/\(schedule.id)" && $0.concurrencyLimit == 1 })
            #expect(runs.last?.state == .running, "the oldest runs")
            #expect(runs.dropLast().allSatisfy { $0.state == .queued }, "the others wait: \(runs.map(\.state))")
            _ = FileManager.default.createFile(atPath: flag, contents: nil)
            for run in runs { #expect(try await client.wait(run.id, timeout: 30).state == .succeeded) }
        }
    }

    @Test func overlapCancelPrevious_CancelsTheRunningRun_SayingWhy_ThenStartsTheNext() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let schedule = try await client.createSchedule(json: scheduleJSON(job: JobSpec(command: ["sleep", "300"]), overlap: .cancelPrevious))
            let runs = try await client.waitForRuns(of: schedule.id, atLeast: 2)
            _ = try await client.setSchedulePaused(schedule.id, true)
            let first = try await client.wait(runs.last!.id, timeout: 30)
            #expect(first.state == .cancelled)
            #expect(first.error == "cancelled: superseded by the next run of schedule \(schedule.id)")
            let timeline = try await client.events(first.id)
            #expect(timeline.contains { $0.type == .cancelRequested && $0["reason"] == .string("schedule") })
            let second = try #require(runs.dropLast().last)
            #expect(second.createdAt >= (try #require(first.finishedAt)), "the next run was submitted once the previous one ended")
            for run in try await client.scheduleRuns(schedule.id) where !run.state.isTerminal { _ = try? await client.cancel(run.id) }
        }
    }

    @Test func aPausedSchedule_DoesNotRun_UntilResumed() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let paused = try await client.createSchedule(json: scheduleJSON(name: "paused", overlap: .queue, paused: true))
            #expect(paused.paused && paused.nextRunAt == nil)
            // A second schedule on the same ticks is the clock: two of its runs, none of the paused one.
            let witness = try await client.createSchedule(json: scheduleJSON(name: "witness", overlap: .queue))
            _ = try await client.waitForRuns(of: witness.id, atLeast: 2)
            #expect(try await client.scheduleRuns(paused.id).isEmpty)
            _ = try await client.deleteSchedule(witness.id)

            let resumed = try await client.setSchedulePaused(paused.id, false)
            #expect(!resumed.paused && resumed.nextRunAt != nil)
            let again = try await client.setSchedulePaused(paused.id, false)
            #expect(again.id == resumed.id && !again.paused, "resume is idempotent")
            _ = try await client.waitForRuns(of: paused.id, atLeast: 1)
            let pausedAgain = try await client.setSchedulePaused(paused.id, true)
            #expect(pausedAgain.paused && pausedAgain.nextRunAt == nil)
            let missing = try await server.send("POST", "/v1/schedules/01ARZ3NDEKTSV4RRFFQ69G5FAV/pause")
            #expect(missing.status == 404)
        }
    }

    @Test func aDeletedSchedule_RunsNoMore_AndLeavesItsRunningJobAlone() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let flag = try scratchDirectory() + "/done"
            let schedule = try await client.createSchedule(json: scheduleJSON(job: jobEndingWhen(flag), overlap: .skip))
            let first = try #require(try await client.waitForRuns(of: schedule.id, atLeast: 1).first)
            let deleted = try await client.deleteSchedule(schedule.id)
            #expect(deleted.id == schedule.id)
            #expect(try await server.send("GET", "/v1/schedules/\(schedule.id)").status == 404)
            #expect(try await server.send("DELETE", "/v1/schedules/\(schedule.id)").status == 404)
            #expect(try await client.job(first.id).state == .running, "the run in progress is not touched")
            _ = FileManager.default.createFile(atPath: flag, contents: nil)
            #expect(try await client.wait(first.id, timeout: 30).state == .succeeded)
            // With the schedule alive, the next tick would now run (skip only waits for the
            // previous run); a witness on the same ticks runs twice meanwhile.
            let witness = try await client.createSchedule(json: scheduleJSON(name: "witness", overlap: .queue))
            _ = try await client.waitForRuns(of: witness.id, atLeast: 2)
            #expect(try await client.scheduleRuns(schedule.id).map(\.id) == [first.id])
            _ = try await client.deleteSchedule(witness.id)
        }
    }

    @Test func invalidSchedules_AreRefusedWithA400NamingTheField_AndNothingIsCreated() async throws {
        try await TestServer.with { server in
            let cases: [(String, String)] = [
                (#"{"cron":"* * * * *","job":{"command":["true"]}}"#, "name"),
                (#"{"name":"x","job":{"command":["true"]}}"#, "cron"),
                (#"{"name":"x","cron":"61 * * * *","job":{"command":["true"]}}"#, "cron"),
                (#"{"name":"x","cron":"* * * *","job":{"command":["true"]}}"#, "cron"),
                (#"{"name":"x","cron":"0 0 30 2 *","job":{"command":["true"]}}"#, "cron"),
                (#"{"name":"x","cron":"* * * * *","timezone":"Mars/Olympus_Mons","job":{"command":["true"]}}"#, "timezone"),
                (#"{"name":"x","cron":"* * * * *","timezone":5,"job":{"command":["true"]}}"#, "timezone"),
                (#"{"name":"x","cron":"* * * * *","overlap":"sometimes","job":{"command":["true"]}}"#, "overlap"),
                (#"{"name":"x","cron":"* * * * *","paused":"yes","job":{"command":["true"]}}"#, "paused"),
                (#"{"name":"x","cron":"* * * * *"}"#, "job"),
                (#"{"name":"x","cron":"* * * * *","job":[1]}"#, "job"),
                (#"{"name":"x","cron":"* * * * *","job":{"command":["true"],"timeout_seconds":-1}}"#, "job.timeout_seconds"),
                (#"{"name":"x","cron":"* * * * *","job":{"timeout_seconds":5}}"#, "job.command"),
                (#"{"name":"x","cron":"* * * * *","job":{"command":["true"],"shell":true}}"#, "job.shell"),
                (#"{"name":"x","cron":"* * * * *","job":{"command":["true"],"run_at":"2030-01-01T00:00:00Z"}}"#, "job.run_at"),
                (#"{"name":"x","cron":"* * * * *","job":{"command":["true"]},"every":"day"}"#, "every"),
            ]
            for (body, field) in cases {
                let response = try await server.send("POST", "/v1/schedules", body: body)
                #expect(response.status == 400, "\(body)")
                #expect(response.header("Content-Type")?.hasPrefix("application/problem+json") == true)
                let problem = try decodeProblem(response)
                #expect(problem.field == field, "\(body): \(problem.detail)")
            }
            let cron = try decodeProblem(try await server.send("POST", "/v1/schedules", body: cases[2].0))
            #expect(cron.detail == "cron: minute field: 61 is out of range 0-59")
            #expect(try await server.send("POST", "/v1/schedules", body: "[]").status == 400)
            #expect(try await server.send("POST", "/v1/schedules", body: "").status == 400)
            #expect(try await server.client().schedules().isEmpty, "nothing was created")
            #expect(try await server.send("GET", "/v1/jobs?schedule=nope").status == 400)
        }
    }

    @Test func schedulesWork_OnTheMemoryStore() async throws {
        try await TestServer.with({ $0.store = .memory }) { server in
            let client = server.client()
            let schedule = try await client.createSchedule(json: scheduleJSON(overlap: .queue))
            let runs = try await client.waitForRuns(of: schedule.id, atLeast: 2)
            #expect(runs.allSatisfy { $0.scheduleID == schedule.id })
            #expect(try await client.setSchedulePaused(schedule.id, true).paused)
            #expect(try await client.deleteSchedule(schedule.id).id == schedule.id)
            #expect(try await client.schedules().isEmpty)
        }
    }
}

/// Schedules whose job runs a command template (`--templates`, `--templates-only`).
@Suite struct ScheduleTemplateTests {
    @Test func aScheduleOfATemplate_RunsTheTemplatesArgv_AndTemplatesOnlyRefusesARawOne() async throws {
        try await TemplateTests.withTemplates(only: true) { server in
            let client = server.client()
            let body = #"{"name":"t","cron":"* * * * * *","overlap":"queue","job":{"template":"echo","params":{"message":"tick"}}}"#
            let schedule = try await client.createSchedule(json: body)
            #expect(schedule.job.command == ["printf", "%s|%s|%s\\n", "tick", "1", "false"], "expanded when created")
            let run = try #require(try await client.waitForRuns(of: schedule.id, atLeast: 1).last)
            #expect(run.scheduleID == schedule.id && run.labels["kind"] == "echo")
            let done = try await client.wait(run.id, timeout: 30)
            #expect(done.state == .succeeded)
            #expect(try await client.logs(run.id).text == "tick|1|false\n")
            _ = try await client.deleteSchedule(schedule.id)

            let raw = try await server.send("POST", "/v1/schedules", body: scheduleJSON())
            #expect(raw.status == 403, "a raw command is refused in templates-only mode")
            let bad = try await server.send(
                "POST", "/v1/schedules", body: #"{"name":"t","cron":"@daily","job":{"template":"echo","params":{"message":"x","count":9}}}"#)
            #expect(bad.status == 400)
            let problem = try decodeProblem(bad)
            #expect(problem.field?.hasPrefix("job.params") == true, "\(problem)")
            #expect(try await client.schedules().isEmpty)
        }
    }
}
