import JobsdAPI

extension JobsdClient {
    /// `POST /v1/schedules` with `json` as the body (`{"name", "cron", "timezone", "job",
    /// "overlap", "paused"}`): the schedule (`201`), or nothing (`400` naming the first bad field,
    /// e.g. `cron` or `job.timeout_seconds`).
    public func createSchedule(json: String) async throws(ClientError) -> Schedule {
        let request = ClientRequest(
            method: "POST", path: RequestPath.schedules(), headers: [("Content-Type", "application/json")], body: Array(json.utf8))
        return try await transport.send(request).decoded(Schedule.self, expecting: [201])
    }

    /// `GET /v1/schedules`: every schedule, oldest first.
    public func schedules() async throws(ClientError) -> [Schedule] {
        try await transport.send(ClientRequest(path: RequestPath.schedules())).decoded(ScheduleList.self, expecting: [200]).schedules
    }

    /// `GET /v1/schedules/{id}`.
    public func schedule(_ id: String) async throws(ClientError) -> Schedule {
        try await transport.send(ClientRequest(path: RequestPath.schedule(id))).decoded(Schedule.self, expecting: [200])
    }

    /// `DELETE /v1/schedules/{id}`: no more runs; the jobs it submitted are not touched. Returns
    /// the schedule as it was.
    public func deleteSchedule(_ id: String) async throws(ClientError) -> Schedule {
        try await transport.send(ClientRequest(method: "DELETE", path: RequestPath.schedule(id))).decoded(Schedule.self, expecting: [200])
    }

    /// `POST /v1/schedules/{id}/pause` (true) or `/resume` (false); idempotent.
    public func setSchedulePaused(_ id: String, _ paused: Bool) async throws(ClientError) -> Schedule {
        let request = ClientRequest(method: "POST", path: RequestPath.schedule(id, action: paused ? "pause" : "resume"))
        return try await transport.send(request).decoded(Schedule.self, expecting: [200])
    }

    /// The schedule's runs, newest first (`GET /v1/jobs?schedule=ID`), at most `limit`.
    public func scheduleRuns(_ id: String, limit: Int = 100) async throws(ClientError) -> [Job] {
        let path = RequestPath.jobs(query: [("schedule", id), ("limit", String(limit))])
        return try await transport.send(ClientRequest(path: path)).decoded(JobList.self, expecting: [200]).jobs
    }
}
