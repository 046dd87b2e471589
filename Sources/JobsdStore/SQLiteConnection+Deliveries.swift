import JobsdAPI

/// The outbox queries (`webhook_deliveries`): writes inside the writer's transaction, reads on
/// the reader connection.
extension SQLiteConnection {
    static let deliveryColumns = "job_id, id, event, url, body, attempts, next_attempt_at"

    /// Enqueues `delivery` unless the job has one already.
    func insertDelivery(_ delivery: WebhookDelivery) throws {
        try withStatement(SQLiteSQL("INSERT OR IGNORE INTO webhook_deliveries (\(Self.deliveryColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")) { statement in
            try statement.bind(1, delivery.jobID)
            try statement.bind(2, delivery.id)
            try statement.bind(3, delivery.event)
            try statement.bind(4, delivery.url)
            try statement.bind(5, delivery.body)
            try statement.bind(6, Int64(delivery.attempts))
            try statement.bind(7, delivery.nextAttemptAt.milliseconds)
            _ = try statement.step()
        }
    }

    func nextDeliveryDue() throws -> Timestamp? {
        try withStatement("SELECT MIN(MAX(next_attempt_at, COALESCE(claimed_until, 0))) FROM webhook_deliveries") { statement in
            _ = try statement.step()
            return statement.int64(0).map(Timestamp.init(milliseconds:))
        }
    }

    func claimDeliveries(owner: String, now: Timestamp, until: Timestamp, limit: Int) throws -> [WebhookDelivery] {
        try withStatement(SQLiteSQL("""
            UPDATE webhook_deliveries SET claimed_by = ?1, claimed_until = ?2
            WHERE job_id IN (
                SELECT job_id FROM webhook_deliveries
                WHERE next_attempt_at <= ?3 AND (claimed_until IS NULL OR claimed_until < ?3)
                ORDER BY next_attempt_at, job_id LIMIT ?4
            )
            RETURNING \(Self.deliveryColumns)
            """)) { statement in
            try statement.bind(1, owner)
            try statement.bind(2, until.milliseconds)
            try statement.bind(3, now.milliseconds)
            try statement.bind(4, Int64(limit))
            var claimed: [WebhookDelivery] = []
            while try statement.step() {
                claimed.append(WebhookDelivery(
                    jobID: statement.string(0) ?? "", id: statement.string(1) ?? "", event: statement.string(2) ?? "",
                    url: statement.string(3) ?? "", body: statement.string(4) ?? "", attempts: Int(statement.int64(5) ?? 0),
                    nextAttemptAt: Timestamp(milliseconds: statement.int64(6) ?? 0)))
            }
            return claimed
        }
    }

    func settleDelivery(_ delivery: WebhookDelivery, owner: String, retryAt: Timestamp?, event: JobEvent) throws -> JobEvent? {
        try atomically {
            let held: Bool
            if let retryAt {
                held = try withStatement("""
                    UPDATE webhook_deliveries SET attempts = ?3, next_attempt_at = ?4, claimed_by = NULL, claimed_until = NULL
                    WHERE job_id = ?1 AND claimed_by = ?2
                    """) { statement in
                    try statement.bind(1, delivery.jobID)
                    try statement.bind(2, owner)
                    try statement.bind(3, Int64(delivery.attempts))
                    try statement.bind(4, retryAt.milliseconds)
                    _ = try statement.step()
                    return rowsChanged > 0
                }
            } else {
                held = try withStatement("DELETE FROM webhook_deliveries WHERE job_id = ?1 AND claimed_by = ?2") { statement in
                    try statement.bind(1, delivery.jobID)
                    try statement.bind(2, owner)
                    _ = try statement.step()
                    return rowsChanged > 0
                }
            }
            guard held else { return nil }
            do {
                return try appendEvent(event, toJob: delivery.jobID)
            } catch JobStoreError.notFound {
                return nil
            }
        }
    }

    func releaseDeliveryClaims(owner: String) throws {
        try withStatement("UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?1") { statement in
            try statement.bind(1, owner)
            _ = try statement.step()
        }
    }
}
