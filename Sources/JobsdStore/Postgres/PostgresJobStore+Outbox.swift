import JobsdAPI

/// The completion-webhook outbox, shared by every node: a claim is one statement that skips the
/// rows another node is claiming (`FOR UPDATE SKIP LOCKED`), and an outcome is stored only by the
/// node that holds the claim, so each attempt's outcome is recorded once cluster-wide.
extension PostgresJobStore: WebhookOutbox {
    static let deliveryColumns = "job_id, id, event, url, body, attempts, next_attempt_at"

    /// Enqueues `delivery` (inside the caller's transaction) unless the job has one already.
    static func insertDelivery(_ delivery: WebhookDelivery, on connection: PostgresConnection) throws {
        _ = try connection.query(
            "INSERT INTO webhook_deliveries (\(deliveryColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            [delivery.jobID, delivery.id, delivery.event, delivery.url, delivery.body, delivery.attempts, delivery.nextAttemptAt.milliseconds])
    }

    public func nextDeliveryDue() async throws -> Timestamp? {
        try await pool.run(idempotent: true) { connection in
            try connection.query("SELECT MIN(GREATEST(next_attempt_at, COALESCE(claimed_until, 0))) FROM webhook_deliveries")
                .rows.first?.int64(0).map(Timestamp.init(milliseconds:))
        }
    }

    public func claimDeliveries(owner: String, now: Timestamp, until: Timestamp, limit: Int) async throws -> [WebhookDelivery] {
        let sql = """
            UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = $2
            WHERE job_id IN (
                SELECT job_id FROM webhook_deliveries
                WHERE next_attempt_at <= $3 AND (claimed_until IS NULL OR claimed_until < $3)
                ORDER BY next_attempt_at, job_id LIMIT $4 FOR UPDATE SKIP LOCKED
            )
            RETURNING \(Self.deliveryColumns)
            """
        return try await pool.run { connection in
            try connection.query(sql, [owner, until.milliseconds, now.milliseconds, limit]).rows.map { row in
                WebhookDelivery(
                    jobID: row.string(0) ?? "", id: row.string(1) ?? "", event: row.string(2) ?? "", url: row.string(3) ?? "",
                    body: row.string(4) ?? "", attempts: Int(row.int64(5) ?? 0), nextAttemptAt: Timestamp(milliseconds: row.int64(6) ?? 0))
            }
        }
    }

    public func settleDelivery(_ delivery: WebhookDelivery, owner: String, retryAt: Timestamp?, event: JobEvent) async throws -> JobEvent? {
        try await pool.run { connection in
            try connection.transaction {
                let held = if let retryAt {
                    try connection.query(
                        "UPDATE webhook_deliveries SET attempts = $3, next_attempt_at = $4, claimed_by = NULL, claimed_until = NULL "
                            + "WHERE job_id = $1 AND claimed_by = $2",
                        [delivery.jobID, owner, delivery.attempts, retryAt.milliseconds]).affectedRows == 1
                } else {
                    try connection.query("DELETE FROM webhook_deliveries WHERE job_id = $1 AND claimed_by = $2", [delivery.jobID, owner])
                        .affectedRows == 1
                }
                return held ? try Self.appendNumbered(event, to: delivery.jobID, on: connection) : nil
            }
        }
    }

    public func releaseDeliveryClaims(owner: String) async throws {
        try await pool.run { connection in
            _ = try connection.query("UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1", [owner])
        }
    }
}
