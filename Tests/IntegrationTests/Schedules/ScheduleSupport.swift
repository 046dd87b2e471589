import Foundation
import JobsdAPI
import JobsdClient

/// The body of `POST /v1/schedules` (the tests' schedules tick every second or two: the
/// optional leading seconds field, so that a run comes without waiting for a minute).
func scheduleJSON(
    name: String = "every-second", cron: String = "* * * * * *", timezone: String? = nil, job: JobSpec = JobSpec(command: ["true"]),
    overlap: ScheduleOverlap? = nil, paused: Bool? = nil
) -> String {
    var fields = ["\"name\":\"\(name)\"", "\"cron\":\"\(cron)\"", "\"job\":\(job.json)"]
    if let timezone { fields.append("\"timezone\":\"\(timezone)\"") }
    if let overlap { fields.append("\"overlap\":\"\(overlap.rawValue)\"") }
    if let paused { fields.append("\"paused\":\(paused)") }
    return "{" + fields.joined(separator: ",") + "}"
}

extension JobsdClient {
    /// Waits until the schedule has at least `count` runs (or `condition` holds for its runs),
    /// and returns them, newest first.
    @discardableResult
    func waitForRuns(of id: String, atLeast count: Int, timeout: Double = 60) async throws -> [Job] {
        var runs: [Job] = []
        try await eventually("\(count) runs of schedule \(id)", timeout: timeout) {
            runs = try await scheduleRuns(id)
            return runs.count >= count
        }
        return runs
    }
}
