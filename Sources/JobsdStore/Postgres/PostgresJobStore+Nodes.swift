import JobsdAPI

/// Claims, leases, rescue and notifications: what several nodes on one database need.
extension PostgresJobStore: SharedJobStore {
    /// The database's clock in Unix milliseconds: leases are compared on one clock, whatever the
    /// nodes' clocks say.
    static let now = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    /// Claimable: queued, no node holds it, its `run_at` (if any) has come by the database's
    /// clock, and — with a concurrency key — no earlier job of its key is waiting (one that is due)
    /// and fewer of its key are running or cancelling anywhere than its own `concurrency_limit`.
    /// At most one job per key per claim (the head of its key), so the count holds within one
    /// statement; the claim loop claims again while it gets jobs. Among the claimable, lowest rank
    /// first (`Job.rank`: `created_at − priority × agingMilliseconds`, then id).
    public func claimQueued(node: String, limit: Int, agingMilliseconds: Int64) async throws -> [(record: JobRecord, lastEventSeq: Int)] {
        guard limit > 0 else { return [] }
        let sql = """
            UPDATE jobs SET owner = $1, fence = nextval('jobs_fence'), state = 'running', started_at = \(Self.now)
            WHERE id IN (
                SELECT j.id FROM jobs j WHERE j.state = 'queued' AND j.owner IS NULL AND coalesce(j.run_at, 0) <= \(Self.now)
                    AND (j.concurrency_key IS NULL OR (
                        NOT EXISTS (SELECT 1 FROM jobs w WHERE w.concurrency_key = j.concurrency_key AND w.state = 'queued'
                            AND w.id < j.id AND coalesce(w.run_at, 0) <= \(Self.now))
                        AND (SELECT count(*) FROM jobs r WHERE r.concurrency_key = j.concurrency_key
                            AND r.state IN ('running', 'cancelling')) < coalesce(j.concurrency_limit, 1)))
                ORDER BY j.created_at - coalesce((j.orchestration::jsonb->>'priority')::bigint, 0) * $3, j.id
                LIMIT $2 FOR UPDATE SKIP LOCKED
            )
            RETURNING \(PostgresJobRows.columns), (SELECT coalesce(max(seq), 0) FROM job_events e WHERE e.job_id = jobs.id)
            """
        let seqColumn = Int32(PostgresJobRows.fenceParameter)
        return try await writeLoggingChanges { connection, changes in
            // Claims of all nodes are serialised, so the count of a key's running jobs cannot
            // change between a claim's check and its update.
            try PostgresSchema.AdvisoryLock.claim.take(on: connection)
            let claimed = try connection.query(sql, [node, limit, agingMilliseconds]).rows
                .map { (try PostgresJobRows.record(from: $0), Int($0.int64(seqColumn) ?? 0)) }
                .sorted { a, b in
                    let (x, y) = (a.0.job.rank(agingMilliseconds: agingMilliseconds), b.0.job.rank(agingMilliseconds: agingMilliseconds))
                    return x != y ? x < y : a.0.id < b.0.id
                }
            // The claim is the job's change to `running` (the spawn's update keeps the state).
            for (record, _) in claimed { changes.append(try Self.appendChange(JobChange(record.job), on: connection)) }
            // A claim renews the node's lease: a node back from a freeze claims before its next
            // heartbeat, and its claims must not look like a silent node's to a rescue. Last, once
            // nothing is left to wait for: the row stays locked until the commit, and the
            // heartbeat's renewal must never wait behind a claim that waits for the change log
            // (a group insert holds it for seconds), or a busy but healthy node is rescued.
            _ = try connection.query("UPDATE nodes SET last_seen_at = \(Self.now) WHERE id = $1", [node])
            return claimed
        }
    }

    public func cancelUnclaimed(_ ids: [String], at: Timestamp, error: String?, events: [JobEvent]) async throws -> [JobRecord] {
        guard !ids.isEmpty else { return [] }
        let sql = """
            UPDATE jobs SET state = 'cancelled', cancel_requested_at = $2, finished_at = $2, error = $3,
                cleanup_state = 'none', cleanup_exit_code = NULL, cleanup_error = NULL
            WHERE id = ANY($1::text[]) AND state = 'queued' AND owner IS NULL
            RETURNING \(PostgresJobRows.columns)
            """
        let lastSeqs = "SELECT job_id, max(seq) FROM job_events WHERE job_id = ANY($1::text[]) GROUP BY job_id"
        return try await writeLoggingChanges { connection, changes in
            // The update locks the rows: no other write numbers events of these jobs meanwhile.
            let records = try connection.query(sql, [Self.textArray(ids), at.milliseconds, error]).rows
                .map(PostgresJobRows.record(from:)).sorted { $0.id < $1.id }
            guard !records.isEmpty else { return [] }
            var last: [String: Int] = [:]
            for row in try connection.query(lastSeqs, [Self.textArray(records.map(\.id))]).rows {
                if let id = row.string(0) { last[id] = Int(row.int64(1) ?? 0) }
            }
            for record in records {
                try Self.insertEvents(Self.numbered(events, after: last[record.id] ?? 0), of: record.id, on: connection)
                changes.append(try Self.appendChange(JobChange(record.job), on: connection))
                if let delivery = WebhookDelivery.enqueued(by: record) { try Self.insertDelivery(delivery, on: connection) }
            }
            return records
        }
    }

    public func requestCancel(_ id: String, channel: String, payload: String) async throws -> JobRecord? {
        let sql = """
            UPDATE jobs SET state = 'cancelling', cancel_requested_at = \(Self.now)
            WHERE id = $1 AND state = 'running'
            RETURNING \(PostgresJobRows.columns)
            """
        return try await pool.run { connection in
            try connection.transaction {
                let record = try connection.query(sql, [id]).rows.first.map(PostgresJobRows.record(from:))
                _ = try connection.query("SELECT pg_notify($1, $2)", [channel, payload])
                return record
            }
        }
    }

    /// Owners without a lease renewed within `$2` milliseconds (also one that never wrote its
    /// row), other than `$1`.
    private static let deadOwner = "owner <> $1 AND owner NOT IN (SELECT id FROM nodes WHERE last_seen_at >= \(now) - $2)"

    public func heartbeat(_ node: NodeRecord, timeout: Double) async throws -> Heartbeat {
        let renew = """
            INSERT INTO nodes (id, address, started_at, last_seen_at, running, max_running)
            VALUES ($1, $2, $3, \(Self.now), $4, $5)
            ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, started_at = EXCLUDED.started_at,
                last_seen_at = EXCLUDED.last_seen_at, running = EXCLUDED.running, max_running = EXCLUDED.max_running
            """
        let requeue = "UPDATE jobs SET owner = NULL, fence = NULL WHERE state = 'queued' AND \(Self.deadOwner) RETURNING id"
        let rescuable = "SELECT EXISTS (SELECT 1 FROM jobs WHERE state IN ('running', 'cancelling') AND \(Self.deadOwner))"
        let takenOver = """
            SELECT \(PostgresJobRows.columns), r.attempt FROM job_rescues r JOIN jobs ON jobs.id = r.job_id
            WHERE r.node = $1 ORDER BY r.job_id, r.attempt
            """
        let attemptColumn = Int32(PostgresJobRows.fenceParameter)
        let timeoutMilliseconds = Int64(timeout * 1000)
        return try await pool.run(control: true) { connection in
            try connection.transaction {
                _ = try connection.query(
                    renew, [node.id, node.address, node.startedAt.milliseconds, node.running, node.maxRunning])
                let requeued = try connection.query(requeue, [node.id, timeoutMilliseconds]).rows.compactMap { $0.string(0) }
                let silent = try connection.query(rescuable, [node.id, timeoutMilliseconds]).rows.first?.bool(0) ?? false
                let mine = try connection.query(takenOver, [node.id]).rows.map {
                    TakenOverAttempt(record: try PostgresJobRows.record(from: $0), attempt: Int($0.int64(attemptColumn) ?? 1))
                }
                return Heartbeat(requeued: requeued, rescuable: silent, takenOver: mine)
            }
        }
    }

    public func rescue(
        node: String, timeout: Double, _ decide: @escaping @Sendable (JobRecord, Timestamp) -> (record: JobRecord, events: [JobEvent])
    ) async throws -> [JobRecord] {
        // Each with the seq of its last event, the bytes its stored output holds and the
        // database's clock.
        let select = """
            SELECT \(PostgresJobRows.columns),
                (SELECT coalesce(max(seq), 0) FROM job_events e WHERE e.job_id = jobs.id),
                (SELECT o.end_off - o.kept_from FROM job_output o
                    WHERE o.job_id = jobs.id AND o.attempt = coalesce((jobs.orchestration::jsonb ->> 'attempt')::integer, 1)
                    ORDER BY o.end_off DESC LIMIT 1),
                \(Self.now)
            FROM jobs WHERE state IN ('running', 'cancelling') AND \(Self.deadOwner) ORDER BY id FOR UPDATE SKIP LOCKED
            """
        // A new token for a terminal record (the old owner's writes are refused from now on);
        // none for a re-queued one, which waits unclaimed.
        let write = "UPDATE jobs SET " + StoredJob.updateAssignments { "$\($0)" }
            + ", fence = CASE WHEN $2 = 'queued' THEN NULL ELSE nextval('jobs_fence') END"
            + " WHERE id = $1 AND fence IS NOT DISTINCT FROM $\(PostgresJobRows.fenceParameter)"
        let recordRescue = "INSERT INTO job_rescues (job_id, attempt, node) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
        let extra = Int32(PostgresJobRows.fenceParameter)
        let timeoutMilliseconds = Int64(timeout * 1000)
        return try await writeLoggingChanges { connection, changes in
            var rescued: [JobRecord] = []
            for row in try connection.query(select, [node, timeoutMilliseconds]).rows {
                var found = try PostgresJobRows.record(from: row)
                guard let owner = found.owner else { continue }
                if let kept = row.int64(extra + 1) { found.job.logBytes = kept }
                let lastSeq = Int(row.int64(extra) ?? 0)
                let (record, events) = decide(found, Timestamp(milliseconds: row.int64(extra + 2) ?? Timestamp.now().milliseconds))
                guard try connection.query(write, PostgresJobRows.parameters(record)).affectedRows == 1 else { continue }
                try Self.insertEvents(Self.numbered(events, after: lastSeq), of: record.id, on: connection)
                changes.append(try Self.appendChange(JobChange(record.job), on: connection))
                _ = try connection.query(recordRescue, [record.id, found.job.attempt, owner])
                if let delivery = WebhookDelivery.enqueued(by: record) { try Self.insertDelivery(delivery, on: connection) }
                rescued.append(record)
            }
            return rescued
        }
    }

    public func nodes(timeout: Double) async throws -> [NodeRecord] {
        let sql = """
            SELECT id, address, started_at, last_seen_at, running, max_running, last_seen_at >= \(Self.now) - $1
            FROM nodes ORDER BY id
            """
        return try await pool.run(idempotent: true) { connection in
            try connection.query(sql, [Int64(timeout * 1000)]).rows.map { row in
                NodeRecord(
                    id: row.string(0) ?? "", address: row.string(1) ?? "",
                    startedAt: Timestamp(milliseconds: row.int64(2) ?? 0), lastSeenAt: Timestamp(milliseconds: row.int64(3) ?? 0),
                    running: Int(row.int64(4) ?? 0), maxRunning: Int(row.int64(5) ?? 0), alive: row.bool(6) ?? false)
            }
        }
    }

    public func release(_ ids: [String], node: String) async throws {
        guard !ids.isEmpty else { return }
        let sql = """
            UPDATE jobs SET state = 'queued', started_at = NULL, owner = NULL, fence = NULL
            WHERE id = ANY($1::text[]) AND owner = $2 AND state = 'running' AND pid IS NULL
            RETURNING \(PostgresJobRows.columns)
            """
        // Each one's change back to `queued` is logged, as its claim's to `running` was.
        try await writeLoggingChanges { connection, changes in
            for row in try connection.query(sql, [Self.textArray(ids), node]).rows.sorted(by: { $0.string(0) ?? "" < $1.string(0) ?? "" }) {
                changes.append(try Self.appendChange(JobChange(try PostgresJobRows.record(from: row).job), on: connection))
            }
        }
    }

    /// A `text[]` literal of job ids (ULIDs, which need no quoting).
    static func textArray(_ ids: [String]) -> String { "{" + ids.joined(separator: ",") + "}" }

    public var changesChannel: String { PostgresChangeRelay.channel }

    public func catchUpChanges(notified: Int64?) async throws {
        if let notified, changeRelay.handed(notified) { return }
        try await pool.run(idempotent: true) { [changeRelay] connection in try changeRelay.catchUp(on: connection) }
    }

    public func listen(
        channels: [String], handler: @escaping @Sendable (PostgresListener.Notification) -> Void,
        onReconnect: @escaping @Sendable () -> Void
    ) async throws -> PostgresListener {
        let listener = PostgresListener(url: url, channels: channels, onNotification: handler, onReconnect: onReconnect)
        try await listener.start()
        return listener
    }
}
