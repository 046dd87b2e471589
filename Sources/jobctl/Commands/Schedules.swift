import ArgumentParser
import Foundation
import JobsdAPI
import JobsdClient

/// `jobctl schedules list|get|create|delete|pause|resume`: periodic jobs (`/v1/schedules`).
struct Schedules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage schedules (periodic jobs).",
        discussion: """
            A schedule submits a job each time its cron expression fires in its time zone; the runs \
            are ordinary jobs with schedule_id set (jobctl list shows them). See openapi.yaml or the \
            README for the cron syntax, catch-up, daylight saving and overlap rules.
            """,
        subcommands: [ListSchedules.self, GetSchedule.self, CreateSchedule.self, DeleteSchedule.self, PauseSchedule.self, ResumeSchedule.self]
    )

    /// One line per schedule: id, paused or next tick, cron in its zone, overlap, name.
    static func line(_ s: Schedule) -> String {
        let next = s.paused ? "paused" : (s.nextRunAt.map(\.description) ?? "-")
        return "\(s.id)  \(next)  \(s.cron) (\(s.timezone))  \(s.overlap.rawValue)  \(s.name)"
    }
}

/// `jobctl schedules list [--json]`
struct ListSchedules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List every schedule, oldest first.")

    @OptionGroup var server: ServerOptions

    @Flag(help: "Print the schedules as the server's JSON ({\"schedules\": [...]}).")
    var json = false

    func run() async throws {
        let schedules = try await server.call { client throws(ClientError) in try await client.schedules() }
        if json {
            Output.line(ScheduleList(schedules: schedules).json)
        } else {
            for schedule in schedules { Output.line(Schedules.line(schedule)) }
        }
    }
}

/// `jobctl schedules get ID`
struct GetSchedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a schedule as JSON.")

    @OptionGroup var server: ServerOptions

    @Argument(help: "The schedule id.")
    var id: String

    func run() async throws {
        Output.line(try await server.call { client throws(ClientError) in try await client.schedule(id) }.json)
    }
}

/// `jobctl schedules create FILE.json`
struct CreateSchedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a schedule from a JSON file (- for stdin); prints its id.",
        discussion: #"The file is the body of POST /v1/schedules, e.g. {"name": "sync", "cron": "*/5 * * * *", "timezone": "Europe/Berlin", "job": {"command": ["./sync.sh"]}, "overlap": "skip"}."#
    )

    @OptionGroup var server: ServerOptions

    @Flag(help: "Print the created schedule as JSON instead of its id.")
    var json = false

    @Argument(help: ArgumentHelp("The schedule as JSON.", valueName: "file"))
    var file: String

    func run() async throws {
        let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file)
        guard let data else { throw JobctlFailure(message: "cannot read \(file)", status: 2) }
        let body = String(decoding: data, as: UTF8.self)
        let schedule = try await server.call { client throws(ClientError) in try await client.createSchedule(json: body) }
        Output.line(json ? schedule.json : schedule.id)
    }
}

/// `jobctl schedules delete ID`
struct DeleteSchedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a schedule (the jobs it already submitted are not touched).")

    @OptionGroup var server: ServerOptions

    @Argument(help: "The schedule id.")
    var id: String

    func run() async throws {
        let schedule = try await server.call { client throws(ClientError) in try await client.deleteSchedule(id) }
        Output.line("deleted \(schedule.id)  \(schedule.name)")
    }
}

/// `jobctl schedules pause ID`
struct PauseSchedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause a schedule: no runs until resumed.")

    @OptionGroup var schedule: SchedulePausing

    func run() async throws { try await schedule.set(paused: true) }
}

/// `jobctl schedules resume ID`
struct ResumeSchedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Resume a schedule from its next tick (ticks missed while paused are not run).")

    @OptionGroup var schedule: SchedulePausing

    func run() async throws { try await schedule.set(paused: false) }
}

/// What `pause` and `resume` take and do: one call (`POST /v1/schedules/{id}/pause` or `/resume`),
/// then the schedule's line.
struct SchedulePausing: ParsableArguments {
    @OptionGroup var server: ServerOptions

    @Argument(help: "The schedule id.")
    var id: String

    func set(paused: Bool) async throws {
        Output.line(Schedules.line(try await server.call { client throws(ClientError) in try await client.setSchedulePaused(id, paused) }))
    }
}
