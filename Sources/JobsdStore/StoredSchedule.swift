import Foundation
import JobsdAPI

/// How a `Schedule` is laid out in a `schedules` row, shared by the SQLite and PostgreSQL stores:
/// the job spec as its request JSON, `paused` as 0/1, times in Unix milliseconds
/// (`next_run_at` always set, also while paused).
enum StoredSchedule {
    static let columns = "id, name, cron, timezone, job, overlap, paused, created_at, next_run_at, last_run_at, last_job_id"

    /// The values of `columns`, in order (times as milliseconds, `paused` as 0/1).
    static func values(_ s: Schedule) -> (id: String, name: String, cron: String, timezone: String, job: String, overlap: String,
                                          paused: Int64, createdAt: Int64, nextRunAt: Int64, lastRunAt: Int64?, lastJobID: String?) {
        (s.id, s.name, s.cron, s.timezone, s.job.json, s.overlap.rawValue, s.paused ? 1 : 0, s.createdAt.milliseconds,
         (s.nextRunAt ?? s.createdAt).milliseconds, s.lastRunAt?.milliseconds, s.lastJobID)
    }

    /// The schedule in the current row of a statement that selected `columns`.
    static func schedule(from row: some StoredJobRow) throws(JobStoreError) -> Schedule {
        let id = row.string(0) ?? ""
        func corrupt(_ column: String) -> JobStoreError { .unavailable("stored schedule \(id) is corrupt: cannot decode column \(column)") }
        guard let name = row.string(1), let cron = row.string(2), let zone = row.string(3) else { throw corrupt("name/cron/timezone") }
        let job: JobSpec
        do { job = try JSONDecoder().decode(JobSpec.self, from: Data(row.bytes(4))) } catch { throw corrupt("job") }
        guard let overlap = row.string(5).flatMap(ScheduleOverlap.init(rawValue:)) else { throw corrupt("overlap") }
        guard let created = row.int64(7), let next = row.int64(8) else { throw corrupt("created_at/next_run_at") }
        return Schedule(
            id: id, name: name, cron: cron, timezone: zone, job: job, overlap: overlap, paused: row.int64(6) == 1,
            createdAt: Timestamp(milliseconds: created), nextRunAt: Timestamp(milliseconds: next),
            lastRunAt: row.int64(9).map(Timestamp.init(milliseconds:)), lastJobID: row.string(10))
    }
}
