import JobsdAPI

/// The completion-webhook outbox in the job database: claims and outcomes are writes of the
/// writer's batches, `nextDeliveryDue` a read on the reader connection.
extension SQLiteJobStore: WebhookOutbox {
    public func nextDeliveryDue() async throws -> Timestamp? {
        try await reader.read { try $0.nextDeliveryDue() }
    }

    public func claimDeliveries(owner: String, now: Timestamp, until: Timestamp, limit: Int) async throws -> [WebhookDelivery] {
        guard case let .claimed(deliveries) = try await writer.perform(.claimDeliveries(owner: owner, now: now, until: until, limit: limit)) else {
            preconditionFailure()
        }
        return deliveries
    }

    public func settleDelivery(_ delivery: WebhookDelivery, owner: String, retryAt: Timestamp?, event: JobEvent) async throws -> JobEvent? {
        guard case let .settled(stored) = try await writer.perform(.settleDelivery(delivery, owner: owner, retryAt: retryAt, event: event)) else {
            preconditionFailure()
        }
        return stored
    }

    public func releaseDeliveryClaims(owner: String) async throws {
        _ = try await writer.perform(.releaseDeliveryClaims(owner: owner))
    }
}
