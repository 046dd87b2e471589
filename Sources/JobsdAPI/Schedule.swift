/// A periodic job (`POST /v1/schedules`): every time `cron` fires in `timezone`, a job is
/// submitted from `job` with `schedule_id` set to this schedule's id. See openapi.yaml
/// (`Schedule`) for the rules: catch-up after a downtime, daylight saving, overlap.
public struct Schedule: Codable, Sendable, Equatable, JSONWritable {
    public var id: String
    public var name: String
    /// Five fields (`*/5 * * * *`), six with a leading seconds field, or a macro (`@daily`).
    public var cron: String
    /// IANA zone the cron expression's wall-clock times are read in (`Europe/Berlin`).
    public var timezone: String
    /// The job each run submits, as accepted (no server defaults filled in).
    public var job: JobSpec
    public var overlap: ScheduleOverlap
    public var paused: Bool
    public var createdAt: Timestamp
    /// The next tick; nil while paused.
    public var nextRunAt: Timestamp?
    /// The tick that last submitted a job; nil before the first run.
    public var lastRunAt: Timestamp?
    /// The job the last run submitted.
    public var lastJobID: String?

    public init(
        id: String, name: String, cron: String, timezone: String = "UTC", job: JobSpec, overlap: ScheduleOverlap = .skip,
        paused: Bool = false, createdAt: Timestamp, nextRunAt: Timestamp? = nil, lastRunAt: Timestamp? = nil, lastJobID: String? = nil
    ) {
        self.id = id
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.job = job
        self.overlap = overlap
        self.paused = paused
        self.createdAt = createdAt
        self.nextRunAt = nextRunAt
        self.lastRunAt = lastRunAt
        self.lastJobID = lastJobID
    }

    enum CodingKeys: String, CodingKey {
        case id, name, cron, timezone, job, overlap, paused
        case createdAt = "created_at", nextRunAt = "next_run_at", lastRunAt = "last_run_at", lastJobID = "last_job_id"
    }

    public func write(into w: inout JSONWriter) {
        w.raw("{\"id\":"); w.string(id)
        w.raw(",\"name\":"); w.string(name)
        w.raw(",\"cron\":"); w.string(cron)
        w.raw(",\"timezone\":"); w.string(timezone)
        w.raw(",\"job\":"); w.raw(job.json)
        w.raw(",\"overlap\":"); w.string(overlap.rawValue)
        w.raw(",\"paused\":"); w.raw(paused ? "true" : "false")
        w.raw(",\"created_at\":"); w.string(createdAt.description)
        w.raw(",\"next_run_at\":"); w.optional(paused ? nil : nextRunAt) { $0.string($1.description) }
        w.raw(",\"last_run_at\":"); w.optional(lastRunAt) { $0.string($1.description) }
        w.raw(",\"last_job_id\":"); w.optional(lastJobID) { $0.string($1) }
        w.raw("}")
    }
}

/// What a tick does while the schedule's previous run is not terminal.
public enum ScheduleOverlap: String, Codable, Sendable, CaseIterable {
    /// No new run (the tick is skipped).
    case skip
    /// The new run is submitted and waits for the previous one to end (they share the
    /// concurrency key `schedule/<id>`, limit 1, unless the job names its own key).
    case queue
    /// The previous run is cancelled (its error says so), then the new one is submitted.
    case cancelPrevious = "cancel_previous"
}
