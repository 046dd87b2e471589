import JobsdAPI

/// A change to one stored schedule (`ScheduleStore.changeSchedule`).
public enum ScheduleChange: Sendable, Equatable {
    /// A new schedule (its `nextRunAt` must be set).
    case insert(Schedule)
    case delete(id: String)
    /// Sets `paused`, and `next_run_at` (resuming recomputes it from the current time).
    case setPaused(id: String, paused: Bool, nextRunAt: Timestamp)
    /// Moves `next_run_at` from `expected` to `next`, only while it is still `expected` and the
    /// schedule is not paused: the claim of one tick. With `ranAt`, `last_run_at` becomes it (the
    /// tick runs); without, the schedule is only re-aimed (a wall-clock step back). On a shared
    /// store exactly one node's claim of a tick succeeds.
    case advance(id: String, expected: Timestamp, next: Timestamp, ranAt: Timestamp?)
    /// The job a run submitted (`last_job_id`).
    case recordRun(id: String, jobID: String)
}

/// Durable storage of schedules (`POST /v1/schedules`), implemented by every store beside its
/// jobs. Schedules are few: they are read whole.
public protocol ScheduleStore: JobStore {
    /// Applies `change` durably; returns false when it changed nothing (unknown id, or an
    /// `advance` whose tick was already claimed or whose schedule is paused). An insert of an id
    /// that exists throws `duplicateID`.
    func changeSchedule(_ change: ScheduleChange) async throws -> Bool
    /// Every schedule, oldest first.
    func schedules() async throws -> [Schedule]
    func schedule(_ id: String) async throws -> Schedule?
}
