import JobsdAPI
import JobsdStore
import Testing

/// The `JobStore` contract, run against every implementation.
@Suite struct JobStoreContractTests {
    // MARK: - Insert, get, update

    @Test(arguments: StoreFactory.all)
    func insert_ThenGet_ReturnsEveryFieldUnchanged(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            var minimal = JobRecord.make(2)
            minimal.spec.stdin = ""  // set but empty is not the same as nil
            let records = [JobRecord.full(1), minimal, JobRecord.make(3)]
            for record in records { #expect(try await store.insert(record) == .inserted) }
            for record in records { #expect(try await store.get(record.id) == record) }
            #expect(try await store.get(jobID(99)) == nil)
        }
    }

    @Test(arguments: StoreFactory.all)
    func update_ReplacesTheWholeRecord_AndListingFollowsTheNewLabels(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let original = JobRecord.make(1, labels: ["team": "a"])
            _ = try await store.insert(original)
            var changed = JobRecord.full(1)
            changed.job.labels = ["team": "b"]
            try await store.update(changed)
            #expect(try await store.get(changed.id) == changed)
            #expect(try await store.list(JobQuery(labels: ["team": "b"])).map(\.id) == [changed.id])
            #expect(try await store.list(JobQuery(labels: ["team": "a"])).isEmpty)
        }
    }

    @Test(arguments: StoreFactory.all)
    func get_AfterEveryUpdate_ReturnsExactlyThatUpdate_WhileOtherTasksUpdateOtherJobs(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 1...32 {
                    group.addTask {
                        var record = JobRecord.make(n)
                        _ = try await store.insert(record)
                        #expect(try await store.get(record.id) == record)
                        for state in [JobState.running, .cancelling, .failed] {
                            record.job.state = state
                            record.job.logBytes += 1
                            try await store.update(record)
                            #expect(try await store.get(record.id) == record)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test(arguments: StoreFactory.all)
    func insert_OfAnIDAlreadyStored_ThrowsDuplicateID_AndKeepsTheStoredJob(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let stored = JobRecord.make(1)
            _ = try await store.insert(stored)
            _ = try await store.get(stored.id)
            await #expect(throws: JobStoreError.duplicateID(stored.id)) { try await store.insert(.full(1)) }
            #expect(try await store.get(stored.id) == stored)
            #expect(try await store.list(JobQuery()) == [stored])
            #expect(try await store.insert(.make(2)) == .inserted)  // the store goes on working
        }
    }

    @Test(arguments: StoreFactory.all)
    func update_OfAnUnknownJob_ThrowsNotFound(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            await #expect(throws: JobStoreError.notFound(jobID(7))) { try await store.update(.make(7)) }
        }
    }

    // MARK: - Listing

    @Test(arguments: StoreFactory.all)
    func list_ReturnsNewestFirst_WithAnyOfTheStates_AndAllOfTheLabels(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let states: [JobState] = [.queued, .running, .failed, .succeeded]
            let records = (1...24).map { n in
                JobRecord.make(
                    n, state: states[n % 4],
                    labels: ["team": n % 2 == 0 ? "a" : "b", "env": n % 3 == 0 ? "prod" : "dev", "n": "\(n)"]
                )
            }
            for record in records { _ = try await store.insert(record) }

            #expect(try await store.list(JobQuery()).map(\.id) == records.reversed().map(\.id))
            #expect(try await store.list(JobQuery(limit: 5)).map(\.id) == records.reversed().prefix(5).map(\.id))

            let byState = try await store.list(JobQuery(states: [.queued, .failed]))
            #expect(byState.map(\.id) == records.reversed().filter { [.queued, .failed].contains($0.state) }.map(\.id))

            let byLabels = try await store.list(JobQuery(labels: ["team": "a", "env": "prod"]))
            #expect(byLabels.map(\.id) == [24, 18, 12, 6].map(jobID))

            let both = try await store.list(JobQuery(states: [.queued], labels: ["env": "prod"], limit: 1))
            #expect(both.map(\.id) == [jobID(24)])
            #expect(try await store.list(JobQuery(labels: ["team": "c"])).isEmpty)
            #expect(try await store.list(JobQuery(labels: ["team": "a", "n": "3"])).isEmpty)

            // Pages of a label filter (the label's own index drives the walk in SQLite).
            let firstPage = try await store.list(JobQuery(labels: ["team": "a"], limit: 3))
            #expect(firstPage.map(\.id) == [24, 22, 20].map(jobID))
            let secondPage = try await store.list(
                JobQuery(states: [.queued, .failed], labels: ["team": "a"], after: JobListPosition(firstPage[2].job), limit: 3))
            #expect(secondPage.map(\.id) == [18, 16, 14].map(jobID))
        }
    }

    @Test(arguments: StoreFactory.all)
    func purgeWithALimit_TakesTheChangeLogFromItsHead_AtMostEightChangesPerJob(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            for n in 1...20 { _ = try await store.insert(.make(n)) }  // queued: 20 changes, no job to purge
            guard case let .changes(all) = try await store.changes(after: 0, limit: 100), all.count == 20 else {
                Issue.record("expected 20 changes")
                return
            }
            let later = Timestamp.now().adding(seconds: 3600)
            #expect(try await store.purge(finishedBefore: later, limit: 1).isEmpty)
            #expect(try await store.changes(after: all[6].seq, limit: 100) == .expired)
            #expect(try await store.changes(after: all[7].seq, limit: 100) == .changes(Array(all[8...])))
            #expect(try await store.purge(finishedBefore: Timestamp(milliseconds: 1), limit: 1).isEmpty)
            #expect(try await store.changes(after: all[7].seq, limit: 100) == .changes(Array(all[8...])))
        }
    }

    @Test(arguments: StoreFactory.all)
    func purgeWithALimit_TakesTheOldestFinishedJobsFirst_AChunkAtATime(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let cutoff = Timestamp(milliseconds: 1_800_000_000_000)
            let finishedAt = [3: 30, 1: 10, 5: 50, 2: 20, 4: 40]  // job n finished at that ms
            for (n, at) in finishedAt {
                _ = try await store.insert(.make(n, state: .succeeded, finishedAt: Timestamp(milliseconds: Int64(at))),
                                           events: [JobEvent(.submitted, seq: 1)])
            }
            _ = try await store.insert(.make(6))
            #expect(Set(try await store.purge(finishedBefore: cutoff, limit: 2)) == Set([1, 2].map(jobID)))
            #expect(Set(try await store.purge(finishedBefore: cutoff, limit: 2)) == Set([3, 4].map(jobID)))
            #expect(try await store.purge(finishedBefore: cutoff, limit: 2) == [jobID(5)])
            #expect(try await store.purge(finishedBefore: cutoff, limit: 2).isEmpty)
            #expect(try await store.list(JobQuery()).map(\.id) == [jobID(6)])
            #expect(try await store.events(of: jobID(5)).isEmpty)
        }
    }

    @Test(arguments: StoreFactory.all)
    func listPages_CoverEveryJobExactlyOnce_WhileNewJobsAreInserted(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let initial = (1...25).map { JobRecord.make($0) }
            for record in initial { _ = try await store.insert(record) }
            var seen: [String] = []
            var cursor: JobListPosition?
            var next = 100
            repeat {
                let page = try await store.list(JobQuery(after: cursor, limit: 7))
                seen += page.map(\.id)
                cursor = page.count == 7 ? page.last.map { JobListPosition($0.job) } : nil
                _ = try await store.insert(.make(next))  // arrives between pages, newer than every cursor
                next += 1
            } while cursor != nil
            #expect(seen == initial.reversed().map(\.id))
        }
    }

    @Test(arguments: StoreFactory.all)
    func list_RunsNewestFirstByCreationTimeThenID_WhereTheIDsOfTwoNodesInterleave(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            // Node B's ids sort below node A's, but B created its jobs later: its clock runs behind
            // A's, or A's stepped back. Jobs 4 and 8 were created in the same millisecond.
            let createdAt = [1: 1002, 2: 1004, 3: 1006, 4: 1008, 5: 1001, 6: 1003, 7: 1005, 8: 1008]
            for (n, at) in createdAt {
                var record = JobRecord.make(n, state: n % 2 == 0 ? .queued : .succeeded)
                record.job.createdAt = Timestamp(milliseconds: Int64(at))
                _ = try await store.insert(record)
            }
            let newestFirst = [8, 4, 3, 7, 2, 6, 1, 5].map(jobID)
            #expect(try await store.list(JobQuery()).map(\.id) == newestFirst)
            var paged: [String] = []
            var cursor: JobListPosition?
            repeat {
                let page = try await store.list(JobQuery(after: cursor, limit: 3))
                paged += page.map(\.id)
                cursor = page.count == 3 ? page.last.map { JobListPosition($0.job) } : nil
            } while cursor != nil
            #expect(paged == newestFirst, "pages follow the same order")
            #expect(try await store.list(JobQuery(states: [.queued])).map(\.id) == [8, 4, 2, 6].map(jobID))
            let afterThree = JobListPosition(createdAt: Timestamp(milliseconds: 1006), id: jobID(3))
            #expect(try await store.list(JobQuery(states: [.queued], after: afterThree)).map(\.id) == [2, 6].map(jobID))
        }
    }

    @Test(arguments: StoreFactory.all)
    func unfinished_ReturnsQueuedRunningAndCancellingJobs_OldestFirst(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let states: [JobState] = [.cancelling, .succeeded, .queued, .cancelled, .running, .failed, .timedOut, .queued]
            for (n, state) in states.enumerated() { _ = try await store.insert(.make(n + 1, state: state)) }
            #expect(try await store.unfinished().map(\.id) == [1, 3, 5, 8].map(jobID))
        }
    }

    // MARK: - Retention and idempotency

    // MARK: - Timelines

    @Test(arguments: StoreFactory.all)
    func events_AreStoredWithTheirWrites_InOrder_AndAppendEventNumbersTheNext(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let at = Timestamp(milliseconds: 1_764_035_600_123)
            let submitted = JobEvent(.submitted, at: at, seq: 1)
            var record = JobRecord.make(1)
            _ = try await store.insert(record, events: [submitted])
            _ = try await store.insert(.make(2))
            record.job.state = .running
            let started = JobEvent(.started, at: at, seq: 2, [.init("pid", .number(42)), .init("attempt", .number(1))])
            let exited = JobEvent(.exited, at: at, seq: 3, [.init("signal", .string("SIGKILL"))])
            try await store.update(record, events: [started, exited])
            #expect(try await store.lastEventSeqOfUnfinishedJobs() == [jobID(1): 3])
            try await store.update(record, events: [exited])  // stored already: left as it is
            record.job.state = .succeeded
            try await store.update(record)
            #expect(try await store.lastEventSeqOfUnfinishedJobs().isEmpty)
            let delivered = try await store.appendEvent(JobEvent(.notifyDelivered, at: at, [.init("status", .number(204))]), to: record.id)
            #expect(delivered.seq == 4)
            #expect(try await store.events(of: record.id) == [submitted, started, exited, delivered])
            #expect(try await store.events(of: jobID(2)).isEmpty)
            await #expect(throws: JobStoreError.notFound(jobID(9))) { _ = try await store.appendEvent(JobEvent(.finished), to: jobID(9)) }
        }
    }

    @Test(arguments: StoreFactory.all)
    func purge_TakesTheTimelinesOfPurgedJobsWithThem(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let cutoff = Timestamp(milliseconds: 1_800_000_000_000)
            _ = try await store.insert(.make(1, state: .succeeded, finishedAt: Timestamp(milliseconds: 1)), events: [JobEvent(.submitted, seq: 1)])
            _ = try await store.insert(.make(2), events: [JobEvent(.submitted, seq: 1)])
            #expect(try await store.purge(finishedBefore: cutoff) == [jobID(1)])
            #expect(try await store.events(of: jobID(1)).isEmpty)
            #expect(try await store.events(of: jobID(2)).count == 1)
        }
    }

    @Test(arguments: StoreFactory.all)
    func purge_DeletesOnlyTerminalJobsFinishedBeforeTheCutoff_AndForgetsTheirKeys(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let cutoff = Timestamp(milliseconds: 1_800_000_000_000)
            let old = cutoff.adding(seconds: -1)
            let records = [
                JobRecord.make(1, state: .succeeded, labels: ["x": "1"], finishedAt: old, idempotencyKey: "k1"),
                JobRecord.make(2, state: .cancelled, finishedAt: old),
                JobRecord.make(3, state: .failed, finishedAt: cutoff),
                JobRecord.make(4, state: .running, finishedAt: old),
                JobRecord.make(5, state: .timedOut),
                JobRecord.make(6, state: .queued, idempotencyKey: "k6"),
            ]
            for record in records { _ = try await store.insert(record) }

            #expect(Set(try await store.purge(finishedBefore: cutoff)) == [jobID(1), jobID(2)])
            #expect(try await store.get(jobID(1)) == nil)
            #expect(try await store.list(JobQuery()).map(\.id) == [6, 5, 4, 3].map(jobID))
            #expect(try await store.list(JobQuery(labels: ["x": "1"])).isEmpty)
            #expect(try await store.insert(.make(7, idempotencyKey: "k1")) == .inserted)
            #expect(try await store.insert(.make(8, idempotencyKey: "k6")) == .existing(records[5]))
            #expect(try await store.purge(finishedBefore: cutoff).isEmpty)
        }
    }

    @Test(arguments: StoreFactory.all)
    func insert_WithAKeyAlreadyStored_ReturnsTheExistingJob_AndStoresNothing(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let first = JobRecord.make(1, idempotencyKey: "same")
            #expect(try await store.insert(first) == .inserted)
            #expect(try await store.insert(.make(2, idempotencyKey: "same")) == .existing(first))
            #expect(try await store.get(jobID(2)) == nil)
            #expect(try await store.insert(.make(3, idempotencyKey: "other")) == .inserted)
            #expect(try await store.insert(.make(4)) == .inserted)
            #expect(try await store.insert(.make(5)) == .inserted)  // many jobs without a key
        }
    }

    @Test(arguments: StoreFactory.all)
    func concurrentInserts_WithOneKey_StoreExactlyOneJob(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let results = try await withThrowingTaskGroup(of: InsertResult.self) { group in
                for n in 1...32 { group.addTask { try await store.insert(.make(n, idempotencyKey: "shared")) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let stored = try await store.list(JobQuery())
            #expect(stored.count == 1)
            #expect(results.filter { $0 == .inserted }.count == 1)
            #expect(results.filter { $0 == .existing(stored[0]) }.count == 31)
        }
    }

    // MARK: - Closing

    @Test(arguments: StoreFactory.all)
    func everyCall_AfterClose_ThrowsUnavailable(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            _ = try await store.insert(.make(1))
            await store.close()
            try await expectUnavailable { _ = try await store.insert(.make(2)) }
            try await expectUnavailable { try await store.update(.make(1)) }
            try await expectUnavailable { _ = try await store.get(jobID(1)) }
            try await expectUnavailable { _ = try await store.list(JobQuery()) }
            try await expectUnavailable { _ = try await store.unfinished() }
            try await expectUnavailable { _ = try await store.purge(finishedBefore: .now()) }
        }
    }
}

/// Expects `body` to throw `JobStoreError.unavailable`.
func expectUnavailable(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async throws {
    do {
        try await body()
        Issue.record("expected JobStoreError.unavailable, got success", sourceLocation: sourceLocation)
    } catch let error as JobStoreError {
        guard case .unavailable = error else {
            Issue.record("expected unavailable, got \(error)", sourceLocation: sourceLocation)
            return
        }
    }
}
