import JobsdAPI

/// The `schedules` table (layout: `StoredSchedule`). Every change is one statement, so two nodes
/// claiming one tick (`advance` from the same `expected`) are serialised by the row lock: the
/// second finds `next_run_at` moved and changes nothing.
extension PostgresJobStore: ScheduleStore {
    public func changeSchedule(_ change: ScheduleChange) async throws -> Bool {
        let (sql, parameters) = Self.statement(change)
        return try await pool.run { connection in
            do {
                return try connection.query(sql, parameters).affectedRows == 1
            } catch let error as PostgresError where error.sqlState == PostgresError.uniqueViolation {
                guard case let .insert(schedule) = change else { throw error }
                throw JobStoreError.duplicateID(schedule.id)
            }
        }
    }

    public func schedules() async throws -> [Schedule] {
        try await pool.run(idempotent: true) { connection in
            try connection.query("SELECT \(StoredSchedule.columns) FROM schedules ORDER BY id").rows.map(StoredSchedule.schedule(from:))
        }
    }

    public func schedule(_ id: String) async throws -> Schedule? {
        try await pool.run(idempotent: true) { connection in
            try connection.query("SELECT \(StoredSchedule.columns) FROM schedules WHERE id = $1", [id]).rows.first
                .map(StoredSchedule.schedule(from:))
        }
    }

    private static func statement(_ change: ScheduleChange) -> (String, [(any PostgresBindable)?]) {
        switch change {
        case let .insert(schedule):
            let v = StoredSchedule.values(schedule)
            return ("INSERT INTO schedules (\(StoredSchedule.columns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    [v.id, v.name, v.cron, v.timezone, v.job, v.overlap, v.paused, v.createdAt, v.nextRunAt, v.lastRunAt, v.lastJobID])
        case let .delete(id):
            return ("DELETE FROM schedules WHERE id = $1", [id])
        case let .setPaused(id, paused, next):
            return ("UPDATE schedules SET paused = $2, next_run_at = $3 WHERE id = $1", [id, Int64(paused ? 1 : 0), next.milliseconds])
        case let .advance(id, expected, next, ranAt):
            return ("UPDATE schedules SET next_run_at = $3, last_run_at = coalesce($4::bigint, last_run_at) "
                    + "WHERE id = $1 AND next_run_at = $2 AND paused = 0",
                    [id, expected.milliseconds, next.milliseconds, ranAt?.milliseconds])
        case let .recordRun(id, jobID):
            return ("UPDATE schedules SET last_job_id = $2 WHERE id = $1", [id, jobID])
        }
    }
}
