import CoreMetrics
import Dispatch
import JobsdAPI
import JobsdCore
import JobsdStore
import Logging

/// Delivers the store's completion-webhook outbox (CONTRACT.md, "Completion webhooks"): every
/// terminal job with `notify` is POSTed to its URL until a 2xx answer, or until
/// `--webhook-max-attempts` attempts failed, with a pause of 1 s doubling to 5 min between
/// attempts. Each attempt and the delivery's end are written to the job's timeline
/// (`notify_attempt_failed` with `retry_at`, then `notify_delivered` or `notify_failed`) and
/// counted in `/metrics`.
///
/// `concurrency` workers each claim one due delivery at a time and run its attempt through
/// libcurl on a serial Dispatch queue of their own: a slow or dead receiver holds one worker for at
/// most `attemptTimeout`, and never a job, the engine or an HTTP loop. A worker with nothing due
/// waits for the next due time, a job reaching a terminal state on this node (the engine's change
/// feed, read once for all workers by `WebhookWakeUps`: each such change wakes one idle worker),
/// or `pollInterval` (deliveries other nodes enqueued, claims that ran out), whichever comes
/// first.
///
/// Delivery is at least once: an attempt whose outcome could not be stored (the node died, the
/// store refused the write) is made again once its claim runs out. `run()` first ends the claims
/// this node held before a restart, so those are retried at once.
///
/// Cancellation: `run()` returns once its task is cancelled; attempts in flight are aborted and
/// their outcome is not stored (their claims are released at the next start, or run out).
public struct WebhookDispatcher: Sendable {
    let outbox: any WebhookOutbox
    let feed: ChangeFeed
    let configuration: WebhookConfiguration
    /// The claim owner: this node's id.
    let owner: String
    let logger: Logger
    let metrics: WebhookMetrics
    let sender: WebhookSender

    public init(
        outbox: any WebhookOutbox, feed: ChangeFeed, configuration: WebhookConfiguration, owner: String, metrics: any MetricsFactory,
        logger: Logger
    ) {
        self.outbox = outbox
        self.feed = feed
        self.configuration = configuration
        self.owner = owner
        self.logger = logger
        self.metrics = WebhookMetrics(metrics)
        sender = WebhookSender(secret: configuration.secret, attemptTimeout: configuration.attemptTimeout)
    }

    public func run() async {
        while !Task.isCancelled {
            do {
                try await outbox.releaseDeliveryClaims(owner: owner)
                break
            } catch {
                logger.warning("webhooks: cannot release this node's earlier claims; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(configuration.pollInterval))
            }
        }
        let workers = max(1, configuration.concurrency)
        let wakeUps = WebhookWakeUps(feed: feed, workers: workers)
        await withDiscardingTaskGroup { group in
            group.addTask { await wakeUps.listen() }
            for index in 0..<workers {
                group.addTask { await work(on: DispatchQueue(label: "jobsd.webhooks.\(index)"), wakeUps: wakeUps) }
            }
        }
    }

    /// One worker: claims a due delivery, attempts it on `queue`, stores the outcome; repeats
    /// until cancelled. With nothing due it idles until `wakeUps` wakes it.
    private func work(on queue: DispatchQueue, wakeUps: WebhookWakeUps) async {
        var reportedFault = false
        while !Task.isCancelled {
            var pause = configuration.pollInterval
            do {
                let now = Timestamp.now()
                let due = try await outbox.nextDeliveryDue()
                if let due, due <= now,
                   let delivery = try await outbox.claimDeliveries(
                       owner: owner, now: now, until: now.adding(seconds: configuration.claimDuration), limit: 1).first {
                    try await deliver(delivery, on: queue)
                    reportedFault = false
                    continue
                }
                if let due {
                    // Due but claimed by another worker a moment ago: look again shortly.
                    pause = min(max(Timestamp.now().seconds(until: due), 0.01), configuration.pollInterval)
                }
                reportedFault = false
            } catch {
                if !reportedFault {
                    logger.warning("webhooks: the outbox cannot be read or written; retrying", metadata: ["error": "\(error)"])
                    reportedFault = true
                }
            }
            await wakeUps.idle(atMost: pause)
        }
    }

    /// Attempts `delivery` once and stores the outcome with its timeline event. Throws when the
    /// store refuses the outcome (the claim then runs out and the attempt is made again).
    private func deliver(_ delivery: WebhookDelivery, on queue: DispatchQueue) async throws {
        let started = ContinuousClock.now
        let outcome = await sender.attempt(delivery, on: queue)
        let elapsed = started.duration(to: .now)
        guard outcome != .cancelled else { return }
        metrics.attemptDuration.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        var settled = delivery
        settled.attempts += 1
        let attempt = settled.attempts
        var log: Logger.Metadata = [
            "job.id": "\(delivery.jobID)", "webhook.delivery": "\(delivery.id)", "webhook.attempt": "\(attempt)",
        ]
        let retryAt: Timestamp?
        let event: JobEvent
        var delivered = false
        switch outcome {
        case let .delivered(status):
            delivered = true
            retryAt = nil
            event = JobEvent(.notifyDelivered, [.init("status", .number(Double(status))), .init("attempts", .number(Double(attempt)))])
            log["http.status"] = "\(status)"
            logger.info("webhook delivered", metadata: log)
        case let .failed(status, error) where attempt < configuration.maxAttempts:
            let next = Timestamp.now().adding(seconds: configuration.backoff(afterAttempt: attempt))
            retryAt = next
            event = JobEvent(.notifyAttemptFailed, [
                .init("attempt", .number(Double(attempt))), .init("status", status.map { .number(Double($0)) } ?? .null),
                .init("error", .string(error)), .init("retry_at", .string(next.description)),
            ])
            log["error"] = "\(error)"
            log["webhook.retry_at"] = "\(next)"
            logger.notice("webhook attempt failed; retrying", metadata: log)
        case let .failed(status, error):
            retryAt = nil
            event = JobEvent(.notifyFailed, [
                .init("status", status.map { .number(Double($0)) } ?? .null), .init("attempts", .number(Double(attempt))),
                .init("error", .string(error)),
            ])
            log["error"] = "\(error)"
            logger.warning("webhook failed; giving up after --webhook-max-attempts", metadata: log)
        case .cancelled:
            return
        }
        metrics.attempts[delivered]?.increment()
        if retryAt == nil { metrics.deliveries[delivered]?.increment() }
        _ = try await outbox.settleDelivery(settled, owner: owner, retryAt: retryAt, event: event)
    }
}
