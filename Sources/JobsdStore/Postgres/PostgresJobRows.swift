import JobsdAPI

/// How a `JobRecord` maps to a PostgreSQL `jobs` row: the statements that write a whole row and
/// the parameters they bind, in `StoredJob.columns` order (`$1` is the id) then the fencing token
/// (`fenceParameter`). Rows read back through `StoredJob.record(from:)`, as SQLite's do, plus the token.
enum PostgresJobRows {
    /// `StoredJob.columns` and the fencing token (the last column).
    static let columns = StoredJob.columns + ", fence"
    /// The fencing token's 1-based parameter number in the whole-row writes.
    static let fenceParameter = StoredJob.columnNames.count + 1

    /// The record in `row` (selected with `columns`).
    static func record(from row: PostgresRow) throws -> JobRecord {
        var record = try StoredJob.record(from: row)
        record.fence = row.int64(Int32(fenceParameter - 1))
        return record
    }

    static let insertSQL =
        "INSERT INTO jobs (\(columns)) VALUES ("
        + (1...fenceParameter).map { "$\($0)" }.joined(separator: ", ")
        + ") ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"

    /// A whole-row update, only while the stored token is the record's.
    static let updateSQL =
        "UPDATE jobs SET " + StoredJob.updateAssignments { "$\($0)" }
        + " WHERE id = $1 AND fence IS NOT DISTINCT FROM $\(fenceParameter)"

    /// The old owner of a rescued attempt (`$1` job, `$2` attempt) is done with it (only that node
    /// writes the end of that attempt: the rescue itself does not go through `update`).
    static let endRescueSQL = "DELETE FROM job_rescues WHERE job_id = $1 AND attempt = $2"

    /// The cleanup outcome of a rescued attempt, for a job still at that attempt (`$5`), terminal,
    /// and with its cleanup pending.
    static let rescuedCleanupSQL = """
        UPDATE jobs SET cleanup_state = $2, cleanup_exit_code = $3, cleanup_error = $4
        WHERE id = $1 AND cleanup_state = 'pending' AND state IN (\(StoredJob.terminalStates))
            AND coalesce((orchestration::jsonb ->> 'attempt')::integer, 1) = $5
        """

    static let selectByID = "SELECT \(columns) FROM jobs WHERE id = $1"
    static let selectByIdempotencyKey = "SELECT \(columns) FROM jobs WHERE idempotency_key = $1"
    static let selectUnfinished =
        "SELECT \(columns) FROM jobs WHERE state IN (\(StoredJob.unfinishedStates)) ORDER BY id"
    /// The oldest `$2` terminal jobs finished before `$1` (rows another transaction holds are left
    /// to the next chunk).
    static let purge =
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN (\(StoredJob.terminalStates)) AND finished_at < $1 "
        + "ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id"

    // MARK: - Groups (layout: StoredGroup)

    static let insertGroupSQL = "INSERT INTO job_groups (\(StoredGroup.columns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    static let updateGroupSQL =
        "UPDATE job_groups SET name = $2, labels = $3, fail_fast = $4, state = $5, created_at = $6, finished_at = $7, "
        + "cancel_requested_at = $8, failed_by = $9, jobs = $10, counts = $11 WHERE id = $1"
    static let selectGroup = "SELECT \(StoredGroup.columns) FROM job_groups WHERE id = $1"
    static let listGroups = "SELECT \(StoredGroup.columns) FROM job_groups WHERE ($1::text IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
    static let selectUnfinishedGroups = "SELECT \(StoredGroup.columns) FROM job_groups WHERE state = 'running' ORDER BY id"
    static let purgeGroups = "DELETE FROM job_groups WHERE finished_at < $1"

    /// Every column's value of `record`, in `StoredGroup.columns` order.
    static func parameters(_ record: GroupRecord) -> [(any PostgresBindable)?] {
        let group = record.group
        return [
            group.id, group.name, StoredJob.labelsJSON(group.labels), group.failFast ? 1 : 0, group.state.rawValue,
            group.createdAt.milliseconds, group.finishedAt?.milliseconds, record.cancelRequestedAt?.milliseconds,
            record.failedBy, StoredGroup.jobsJSON(group), StoredGroup.countsJSON(group),
        ]
    }

    /// Every column's value of `record`, in `StoredJob.columns` order (times in milliseconds).
    static func parameters(_ record: JobRecord) -> [(any PostgresBindable)?] {
        let job = record.job
        return [
            job.id, job.state.rawValue, job.name, StoredJob.labelsJSON(job.labels), StoredJob.commandJSON(job.command),
            job.createdAt.milliseconds, job.startedAt?.milliseconds, job.finishedAt?.milliseconds,
            job.timeoutSeconds, job.graceSeconds, job.cancelRequestedAt?.milliseconds,
            job.pid, job.exitCode, job.signal, job.error,
            job.cleanup.state.rawValue, job.cleanup.exitCode, job.cleanup.error, job.logBytes,
            StoredJob.specJSON(record), record.idempotencyKey, record.requestFingerprint,
            record.processStartTicks.map { Int64(bitPattern: $0) }, record.owner, job.groupID, StoredOrchestration.json(job),
            job.logDroppedBytes,
            record.fence,
        ]
    }

    /// The listing query for `query` and its parameters: newest first (`created_at`, then `id`),
    /// after the cursor, state any of `states`, every label pair present (jsonb containment), at
    /// most `limit`.
    static func list(_ query: JobQuery) -> (sql: String, parameters: [(any PostgresBindable)?]) {
        var sql = "SELECT \(columns) FROM jobs WHERE true"
        var parameters: [(any PostgresBindable)?] = []
        if let after = query.after {
            parameters += [after.createdAt.milliseconds, after.id]
            sql += " AND (created_at, id) < ($\(parameters.count - 1)::bigint, $\(parameters.count))"
        }
        if !query.states.isEmpty {
            parameters.append("{" + query.states.map(\.rawValue).sorted().joined(separator: ",") + "}")
            sql += " AND state = ANY($\(parameters.count)::text[])"
        }
        if let groupID = query.groupID {
            parameters.append(groupID)
            sql += " AND group_id = $\(parameters.count)"
        }
        if let scheduleID = query.scheduleID {
            parameters.append(scheduleID)
            sql += " AND orchestration IS NOT NULL AND orchestration::jsonb->>'schedule_id' = $\(parameters.count)"
        }
        if !query.labels.isEmpty {
            parameters.append(StoredJob.labelsJSON(query.labels))
            sql += " AND labels @> $\(parameters.count)::jsonb"
        }
        parameters.append(max(0, query.limit))
        sql += " ORDER BY created_at DESC, id DESC LIMIT $\(parameters.count)"
        return (sql, parameters)
    }
}
