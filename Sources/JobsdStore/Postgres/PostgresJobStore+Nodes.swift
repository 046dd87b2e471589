import JobsdAPI

/// Claims, leases, rescue and notifications: what several nodes on one database need.
extension PostgresJobStore: SharedJobStore {
    /// The database's clock in Unix milliseconds: leases are compared on one clock, whatever the
    /// nodes' clocks say.
    static let now = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    public func claimQueued(node: String, limit: Int, agingMilliseconds: Int64) async throws -> [JobRecord] {
        guard limit > 0 else { return [] }
        let sql = """
            UPDATE jobs SET owner = $1, fence = nextval('jobs_fence'), state = 'running', started_at = \(Self.now)
            WHERE id IN (
                SELECT id FROM jobs WHERE state = 'queued' AND owner IS NULL
                    AND (orchestration IS NULL OR coalesce((orchestration::jsonb->>'run_at')::bigint, 0) <= \(Self.now))
                ORDER BY created_at - coalesce((orchestration::jsonb->>'priority')::bigint, 0) * $3, id LIMIT $2 FOR UPDATE SKIP LOCKED
            )
            RETURNING \(PostgresJobRows.columns)
            """
        return try await pool.run { connection in
            try connection.query(sql, [node, limit, agingMilliseconds]).rows.map(PostgresJobRows.record(from:)).sorted { a, b in
                let (x, y) = (a.job.rank(agingMilliseconds: agingMilliseconds), b.job.rank(agingMilliseconds: agingMilliseconds))
                return x != y ? x < y : a.id < b.id
            }
        }
    }

    public func cancelUnclaimed(_ id: String) async throws -> JobRecord? {
        let sql = """
            UPDATE jobs SET state = 'cancelled', cancel_requested_at = \(Self.now), finished_at = \(Self.now),
                cleanup_state = 'none', cleanup_exit_code = NULL, cleanup_error = NULL
            WHERE id = $1 AND state = 'queued' AND owner IS NULL
            RETURNING \(PostgresJobRows.columns)
            """
        return try await pool.run { connection in
            try connection.transaction {
                let record = try connection.query(sql, [id]).rows.first.map(PostgresJobRows.record(from:))
                if let delivery = record.flatMap(WebhookDelivery.enqueued(by:)) { try Self.insertDelivery(delivery, on: connection) }
                return record
            }
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

    public func heartbeat(_ node: NodeRecord, timeout: Double) async throws -> Heartbeat {
        let renew = """
            INSERT INTO nodes (id, address, started_at, last_seen_at, running, max_running)
            VALUES ($1, $2, $3, \(Self.now), $4, $5)
            ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, started_at = EXCLUDED.started_at,
                last_seen_at = EXCLUDED.last_seen_at, running = EXCLUDED.running, max_running = EXCLUDED.max_running
            """
        // Owners without a lease renewed within the timeout (also one that never wrote its row).
        let dead = "owner <> $1 AND owner NOT IN (SELECT id FROM nodes WHERE last_seen_at >= \(Self.now) - $2)"
        let rescue = """
            UPDATE jobs SET
                state = CASE WHEN state = 'cancelling' THEN 'cancelled' ELSE 'failed' END,
                error = CASE WHEN state = 'cancelling' THEN error ELSE 'interrupted: node ' || owner || ' stopped responding' END,
                finished_at = \(Self.now), fence = nextval('jobs_fence'), rescue_pending = true,
                cleanup_state = CASE WHEN cleanup_state = 'running' THEN 'pending' ELSE cleanup_state END
            WHERE state IN ('running', 'cancelling') AND \(dead)
            RETURNING id
            """
        let requeue = """
            UPDATE jobs SET owner = NULL, fence = NULL WHERE state = 'queued' AND \(dead) RETURNING id
            """
        let takenOver = "SELECT \(PostgresJobRows.columns) FROM jobs WHERE owner = $1 AND rescue_pending ORDER BY id"
        let timeoutMilliseconds = Int64(timeout * 1000)
        return try await pool.run(control: true) { connection in
            try connection.transaction {
                _ = try connection.query(
                    renew, [node.id, node.address, node.startedAt.milliseconds, node.running, node.maxRunning])
                let rescued = try connection.query(rescue, [node.id, timeoutMilliseconds]).rows.compactMap { $0.string(0) }
                try Self.enqueueDeliveries(ofRescued: rescued, on: connection)
                let requeued = try connection.query(requeue, [node.id, timeoutMilliseconds]).rows.compactMap { $0.string(0) }
                let mine = try connection.query(takenOver, [node.id]).rows.map(PostgresJobRows.record(from:))
                return Heartbeat(rescued: rescued + requeued, takenOver: mine)
            }
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
            """
        let list = "{" + ids.joined(separator: ",") + "}"  // ids are ULIDs: no quoting needed
        try await pool.run { connection in _ = try connection.query(sql, [list, node]) }
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
