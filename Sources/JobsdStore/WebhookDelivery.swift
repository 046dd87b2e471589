import Foundation
import JobsdAPI

/// One completion webhook in the store's outbox (CONTRACT.md, "Completion webhooks"): what to POST
/// where, and how far its delivery got. A store enqueues it in the same transaction as the job's
/// first terminal write, so a job that is terminal always has its delivery stored; the delivery
/// leaves the outbox in the transaction that appends its last timeline event
/// (`notify_delivered` or `notify_failed`). Only stores make one (`enqueued(by:)`, or read from
/// the outbox), with the memberwise initializer.
public struct WebhookDelivery: Sendable, Equatable {
    public var jobID: String
    /// `Jobsd-Delivery`: the same for every attempt of this delivery (receivers deduplicate with it).
    public var id: String
    /// `Jobsd-Event`: `job.<terminal state>`.
    public var event: String
    public var url: String
    /// The job's wire JSON as of its terminal write: the request body.
    public var body: String
    /// Attempts made so far.
    public var attempts: Int
    /// Not to be attempted before this time.
    public var nextAttemptAt: Timestamp

    /// The delivery a write of `record` enqueues when it is the job's first terminal write: nil
    /// when the job is not terminal or has no `notify`. Due at once, with a new random id.
    static func enqueued(by record: JobRecord) -> WebhookDelivery? {
        guard record.state.isTerminal, let notify = record.spec.notify else { return nil }
        return WebhookDelivery(
            jobID: record.id, id: UUID().uuidString.lowercased(), event: "job.\(record.state.rawValue)", url: notify.url,
            body: record.job.json, attempts: 0, nextAttemptAt: record.job.finishedAt ?? .now())
    }
}

/// A `JobStore` that keeps the completion-webhook outbox. Several nodes may share it
/// (PostgreSQL): a claim gives one node a delivery until the claim ends, so each attempt is made
/// by one node and each outcome recorded once; a node that dies mid-attempt leaves its claim to
/// run out, and another node makes the attempt again (at least once).
public protocol WebhookOutbox: JobStore {
    /// The earliest time a delivery can be claimed (its next attempt, or the end of the claim that
    /// holds it); nil when the outbox is empty.
    func nextDeliveryDue() async throws -> Timestamp?
    /// Claims up to `limit` deliveries due at `now` that no claim holds (or whose claim ended
    /// before `now`), oldest first, for `owner` until `until`. Deliveries another node is claiming
    /// at the same moment are skipped, never waited for.
    func claimDeliveries(owner: String, now: Timestamp, until: Timestamp, limit: Int) async throws -> [WebhookDelivery]
    /// Records an attempt of a delivery `owner` claimed: with `retryAt`, the delivery stays with
    /// `delivery.attempts` attempts made, due then, unclaimed; without, it is over and leaves the
    /// outbox. In the same transaction `event` is appended to the job's timeline (numbered by the
    /// store). Returns the stored event; nil when the claim is not `owner`'s any more (nothing is
    /// stored: another node holds the delivery) or the job is gone (swept: the delivery is dropped).
    func settleDelivery(_ delivery: WebhookDelivery, owner: String, retryAt: Timestamp?, event: JobEvent) async throws -> JobEvent?
    /// Ends every claim `owner` holds: a restarted node's claims from before its restart.
    func releaseDeliveryClaims(owner: String) async throws
}
