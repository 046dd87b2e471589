import JobsdAPI
import JobsdStore
import Testing

/// The `WebhookOutbox` contract, run against every implementation: a first terminal write enqueues
/// one delivery; a claim holds it for one owner; its outcome is stored only by that owner, with
/// the timeline event, and retention takes it with the job.
@Suite struct WebhookOutboxContractTests {
    @Test(arguments: StoreFactory.all)
    func theFirstTerminalWriteOfAJobWithNotify_EnqueuesOneDelivery_ThatOneOwnerClaimsAndSettles(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let outbox = try #require(store as? any WebhookOutbox)
            var record = JobRecord.make(1)
            record.spec.notify = NotifySpec(url: "http://127.0.0.1:9/hook")
            _ = try await store.insert(record, events: [JobEvent(.submitted, seq: 1)])
            _ = try await store.insert(.make(2))
            try await store.update(.make(2, state: .succeeded, finishedAt: Timestamp(milliseconds: 5)))
            #expect(try await outbox.nextDeliveryDue() == nil, "no notify, no delivery; not terminal, none yet")

            record.job.state = .failed
            record.job.finishedAt = Timestamp(milliseconds: 1_000)
            try await store.update(record, events: [JobEvent(.finished, seq: 2)])
            try await store.update(record)  // a later terminal write enqueues nothing more
            #expect(try await store.get(record.id)?.spec.notify == record.spec.notify)
            #expect(try await outbox.nextDeliveryDue() == Timestamp(milliseconds: 1_000))

            let now = Timestamp(milliseconds: 2_000)
            let claimed = try await outbox.claimDeliveries(owner: "a", now: now, until: now.adding(seconds: 30), limit: 10)
            #expect(claimed.count == 1)
            var delivery = try #require(claimed.first)
            #expect(delivery.jobID == record.id && delivery.event == "job.failed" && delivery.url == "http://127.0.0.1:9/hook")
            #expect(delivery.attempts == 0 && delivery.id.count == 36)
            #expect(try JSONValue.parse(delivery.body)["state"] == .string("failed"))
            #expect(try await outbox.claimDeliveries(owner: "b", now: now, until: now.adding(seconds: 30), limit: 10).isEmpty)
            #expect(try await outbox.nextDeliveryDue() == now.adding(seconds: 30), "held until the claim ends")

            delivery.attempts = 1
            let failedAttempt = JobEvent(.notifyAttemptFailed, at: now, [.init("attempt", .number(1))])
            #expect(try await outbox.settleDelivery(delivery, owner: "b", retryAt: now, event: failedAttempt) == nil, "not b's claim")
            let stored = try await outbox.settleDelivery(delivery, owner: "a", retryAt: now.adding(seconds: 1), event: failedAttempt)
            #expect(stored?.seq == 3)
            #expect(try await outbox.nextDeliveryDue() == now.adding(seconds: 1))
            #expect(try await outbox.claimDeliveries(owner: "a", now: now, until: now.adding(seconds: 30), limit: 10).isEmpty, "not due yet")

            let later = now.adding(seconds: 2)
            let again = try await outbox.claimDeliveries(owner: "b", now: later, until: later.adding(seconds: 30), limit: 10)
            #expect(again.map(\.attempts) == [1])
            #expect(again.map(\.id) == [delivery.id], "the same delivery id on every attempt")
            try await outbox.releaseDeliveryClaims(owner: "b")
            var last = try #require(try await outbox.claimDeliveries(owner: "a", now: later, until: later.adding(seconds: 30), limit: 10).first)
            last.attempts = 2
            let delivered = try await outbox.settleDelivery(last, owner: "a", retryAt: nil, event: JobEvent(.notifyDelivered, at: later))
            #expect(delivered?.seq == 4)
            #expect(try await outbox.nextDeliveryDue() == nil, "a settled delivery leaves the outbox")
            #expect(try await store.events(of: record.id).map(\.type) == [.submitted, .finished, .notifyAttemptFailed, .notifyDelivered])
        }
    }

    @Test(arguments: StoreFactory.all)
    func purge_TakesAPendingDeliveryWithItsJob(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let outbox = try #require(store as? any WebhookOutbox)
            var record = JobRecord.make(1)
            record.spec.notify = NotifySpec(url: "https://hooks.example.com/")
            _ = try await store.insert(record)
            record.job.state = .cancelled
            record.job.finishedAt = Timestamp(milliseconds: 1)
            try await store.update(record)
            #expect(try await outbox.nextDeliveryDue() != nil)
            #expect(try await store.purge(finishedBefore: Timestamp(milliseconds: 1_000)) == [record.id])
            #expect(try await outbox.nextDeliveryDue() == nil)
        }
    }
}
