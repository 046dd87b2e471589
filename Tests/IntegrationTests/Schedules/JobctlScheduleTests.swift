import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// `jobctl schedules …` against a real server.
@Suite struct JobctlScheduleTests {
    private func jobctl(_ arguments: [String], url: String) async throws -> (code: Int32?, output: String) {
        try await JobctlTests().jobctl(arguments, url: url)
    }

    @Test func schedulesCommands_CreateListGetPauseResumeAndDelete() async throws {
        try await TestServer.with { server in
            let file = try scratchDirectory() + "/schedule.json"
            try scheduleJSON(name: "nightly", cron: "0 3 * * *", timezone: "Europe/Berlin").write(toFile: file, atomically: true, encoding: .utf8)
            let created = try await jobctl(["schedules", "create", file], url: server.baseURL)
            #expect(created.code == 0)
            let id = created.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await server.client().schedule(id).name == "nightly")

            let listed = try await jobctl(["schedules", "list"], url: server.baseURL)
            #expect(listed.code == 0 && listed.output.contains(id) && listed.output.contains("0 3 * * * (Europe/Berlin)"))
            let got = try await jobctl(["schedules", "get", id], url: server.baseURL)
            #expect(try JSONDecoder().decode(Schedule.self, from: Data(got.output.utf8)) == (try await server.client().schedule(id)))
            let paused = try await jobctl(["schedules", "pause", id], url: server.baseURL)
            #expect(paused.code == 0 && paused.output.contains("paused"))
            #expect(try await server.client().schedule(id).paused)
            #expect(try await jobctl(["schedules", "resume", id], url: server.baseURL).code == 0)
            #expect(try await !server.client().schedule(id).paused)
            let deleted = try await jobctl(["schedules", "delete", id], url: server.baseURL)
            #expect(deleted.code == 0 && deleted.output.contains("deleted \(id)"))
            #expect(try await server.client().schedules().isEmpty)

            let missing = try await jobctl(["schedules", "get", id], url: server.baseURL)
            #expect(missing.code == 1 && missing.output.hasPrefix("jobctl: "))
            try #"{"name":"x","cron":"99 * * * *","job":{"command":["true"]}}"#.write(toFile: file, atomically: true, encoding: .utf8)
            let refused = try await jobctl(["schedules", "create", file], url: server.baseURL)
            #expect(refused.code == 1 && refused.output.contains("99 is out of range"), "\(refused.output)")
        }
    }
}
