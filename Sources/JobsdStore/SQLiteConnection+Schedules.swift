import CSQLite
import JobsdAPI

/// The `schedules` table in SQLite (layout: `StoredSchedule`).
extension SQLiteConnection {
    /// Applies one change; false when no row changed. Runs inside the writer's transaction.
    func changeSchedule(_ change: ScheduleChange) throws -> Bool {
        switch change {
        case let .insert(schedule):
            let v = StoredSchedule.values(schedule)
            do {
                try withStatement("INSERT INTO schedules (\(StoredSchedule.columns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)") { s in
                    try s.bind(1, v.id); try s.bind(2, v.name); try s.bind(3, v.cron); try s.bind(4, v.timezone)
                    try s.bind(5, v.job); try s.bind(6, v.overlap); try s.bind(7, v.paused); try s.bind(8, v.createdAt)
                    try s.bind(9, v.nextRunAt); try s.bind(10, v.lastRunAt); try s.bind(11, v.lastJobID)
                    _ = try s.step()
                }
            } catch let error as SQLiteError where error.primaryCode == SQLITE_CONSTRAINT {
                throw JobStoreError.duplicateID(schedule.id)
            }
        case let .delete(id):
            try withStatement("DELETE FROM schedules WHERE id = ?1") { s in
                try s.bind(1, id)
                _ = try s.step()
            }
        case let .setPaused(id, paused, next):
            try withStatement("UPDATE schedules SET paused = ?2, next_run_at = ?3 WHERE id = ?1") { s in
                try s.bind(1, id); try s.bind(2, Int64(paused ? 1 : 0)); try s.bind(3, next.milliseconds)
                _ = try s.step()
            }
        case let .advance(id, expected, next, ranAt):
            try withStatement(
                "UPDATE schedules SET next_run_at = ?3, last_run_at = coalesce(?4, last_run_at) WHERE id = ?1 AND next_run_at = ?2 AND paused = 0"
            ) { s in
                try s.bind(1, id); try s.bind(2, expected.milliseconds); try s.bind(3, next.milliseconds); try s.bind(4, ranAt?.milliseconds)
                _ = try s.step()
            }
        case let .recordRun(id, jobID):
            try withStatement("UPDATE schedules SET last_job_id = ?2 WHERE id = ?1") { s in
                try s.bind(1, id); try s.bind(2, jobID)
                _ = try s.step()
            }
        }
        return changes > 0
    }

    /// Oldest first; one schedule when `id` is given.
    func schedules(id: String? = nil) throws -> [Schedule] {
        let sql: SQLiteSQL = id == nil
            ? "SELECT \(StoredSchedule.columns) FROM schedules ORDER BY id"
            : "SELECT \(StoredSchedule.columns) FROM schedules WHERE id = ?1"
        return try withStatement(sql) { statement in
            if let id { try statement.bind(1, id) }
            var found: [Schedule] = []
            while try statement.step() { found.append(try StoredSchedule.schedule(from: statement)) }
            return found
        }
    }
}
