import JobsdAPI
@testable import JobsdStore
import Logging
import Testing

/// The record cache behind `SQLiteJobStore.get`: it shows only committed records, forgets purged
/// ones, stays within its bounds, and never lets a slow read put back an outdated record.
@Suite struct SQLiteRecordCacheTests {
    let directory = TemporaryDirectory()
    var path: String { directory.path + "/jobs.sqlite" }
    let logger = Logger(label: "jobsd.test.cache")

    // MARK: - Through the store

    @Test func update_ThatFailsOnAFullDisk_LeavesTheCachedRecordAsLastCommitted() async throws {
        defer { directory.remove() }
        let original = JobRecord.make(1)
        do {
            let store = try SQLiteJobStore(path: path, logger: logger)
            _ = try await store.insert(original)
            await store.close()
        }
        let cache = SQLiteRecordCache()
        let store = try SQLiteJobStore(path: path, logger: logger, writerPragmas: ["PRAGMA max_page_count = 1"], cache: cache)
        #expect(try await store.get(original.id) == original)
        #expect(cache.count == 1)
        var grown = original
        grown.job.state = .running
        grown.spec.stdin = String(repeating: "x", count: 50_000)
        try await expectUnavailable { try await store.update(grown) }
        #expect(try await store.get(original.id) == original)
        await store.close()
    }

    @Test func purge_RemovesPurgedJobsFromTheCache() async throws {
        defer { directory.remove() }
        let cache = SQLiteRecordCache()
        let store = try SQLiteJobStore(path: path, logger: logger, writerPragmas: [], cache: cache)
        let old = JobRecord.make(1, state: .succeeded, finishedAt: Timestamp(milliseconds: 1_000))
        let kept = JobRecord.make(2)
        _ = try await store.insert(old)
        _ = try await store.insert(kept)
        #expect(try await store.get(old.id) == old)
        #expect(try await store.purge(finishedBefore: .now()) == [old.id])
        #expect(cache.count == 1)
        #expect(try await store.get(old.id) == nil)
        #expect(try await store.get(kept.id) == kept)
        await store.close()
    }

    @Test func get_WithMoreJobsThanTheCacheHolds_ReturnsEveryJobAsLastWritten() async throws {
        defer { directory.remove() }
        let cache = SQLiteRecordCache(capacity: 8)
        let store = try SQLiteJobStore(path: path, logger: logger, writerPragmas: [], cache: cache)
        var records = (1...40).map { JobRecord.make($0) }
        for record in records { _ = try await store.insert(record) }
        for index in stride(from: 0, to: records.count, by: 3) {
            records[index].job.state = .succeeded
            try await store.update(records[index])
        }
        for _ in 1...2 {
            for record in records.shuffled() { #expect(try await store.get(record.id) == record) }
        }
        #expect(cache.count == 8)
        await store.close()
    }

    @Test func dropCaches_EmptiesTheCache_AndEveryJobIsStillReadAsLastWritten() async throws {
        defer { directory.remove() }
        let cache = SQLiteRecordCache(capacity: 8)
        let store = try SQLiteJobStore(path: path, logger: logger, writerPragmas: [], cache: cache)
        let records = (1...4).map { JobRecord.make($0) }
        for record in records { _ = try await store.insert(record) }
        #expect(cache.count == 4)
        store.dropCaches()
        #expect(cache.count == 0)
        #expect(store.cachedJob(records[0].id) == nil)
        for record in records { #expect(try await store.get(record.id) == record) }
        #expect(cache.count == 4, "reads fill it again")
        await store.close()
    }

    // MARK: - The cache alone

    @Test func fill_IsRefused_WhenAWriteAfterTheMissWasEvictedMeanwhile() throws {
        let cache = SQLiteRecordCache(capacity: 1)
        let ticket = try #require(try cache.ticket(jobID(1)))
        var newer = JobRecord.make(1)
        newer.job.state = .running
        cache.committed([.stored(.init(newer))])
        cache.committed([.stored(.init(.make(2)))])  // evicts job 1
        cache.fill(.make(1), ticket: ticket)  // what a read that started before the update saw
        #expect(try cache.cached(jobID(1)) == nil)
    }

    @Test func fill_IsRefused_AfterAPurge_AndWhenTheIDIsCachedAlready() throws {
        let cache = SQLiteRecordCache()
        let beforePurge = try #require(try cache.ticket(jobID(1)))
        cache.committed([.removed([jobID(1)])])
        cache.fill(.make(1), ticket: beforePurge)
        #expect(cache.count == 0)

        let ticket = try #require(try cache.ticket(jobID(2)))
        var newer = JobRecord.make(2)
        newer.job.state = .running
        cache.committed([.stored(.init(newer))])
        cache.fill(.make(2), ticket: ticket)
        #expect(try cache.cached(jobID(2)) == newer)
    }

    @Test func dropAll_EmptiesTheCache_RefusesTheFillOfAnEarlierMiss_AndFillsAgainAfterward() throws {
        let cache = SQLiteRecordCache()
        let early = try #require(try cache.ticket(jobID(1)))  // a read that missed before the drop
        var newer = JobRecord.make(1)
        newer.job.state = .running
        cache.committed([.stored(.init(newer)), .stored(.init(.make(2)))])
        cache.dropAll()
        #expect(cache.count == 0)
        #expect(try cache.cached(jobID(2)) == nil)
        cache.fill(.make(1), ticket: early)  // older than the dropped write of job 1
        #expect(try cache.cached(jobID(1)) == nil)
        let late = try #require(try cache.ticket(jobID(1)))
        cache.fill(newer, ticket: late)
        #expect(try cache.cached(jobID(1)) == newer)
    }

    @Test func fill_AfterAMissWithNoWriteOfThatJobInBetween_IsCached() throws {
        let cache = SQLiteRecordCache()
        let ticket = try #require(try cache.ticket(jobID(1)))
        cache.committed([.stored(.init(.make(2)))])  // another job's write does not stop the fill
        cache.fill(.make(1), ticket: ticket)
        #expect(try cache.cached(jobID(1)) == .make(1))
    }

    @Test func eviction_SparesAnEntryReadSinceTheHandLastPassed() throws {
        let cache = SQLiteRecordCache(capacity: 2)
        cache.committed([.stored(.init(.make(1))), .stored(.init(.make(2)))])
        _ = try cache.lookup(jobID(1))
        cache.committed([.stored(.init(.make(3)))])
        #expect(try cache.cached(jobID(1)) == .make(1))
        #expect(try cache.cached(jobID(2)) == nil)
        #expect(try cache.cached(jobID(3)) == .make(3))
    }

    @Test func records_StayWithinTheByteBudget_AndOversizedOnesAreNotCached() throws {
        let cache = SQLiteRecordCache(capacity: 1000, byteBudget: 16 * 4096)
        let records = (1...200).map { JobRecord.make($0) }
        cache.committed(records.map { .stored(.init($0)) })
        let perRecord = SQLiteRecordCache.estimatedBytes(of: records[0])
        #expect(cache.count <= 16 * 4096 / perRecord)
        #expect(cache.count >= 16 * 4096 / perRecord - 2)

        let last = records[199]
        #expect(try cache.cached(last.id) == last)
        var oversized = last
        oversized.spec.stdin = String(repeating: "x", count: 8192)
        cache.committed([.stored(.init(oversized))])
        #expect(try cache.cached(last.id) == nil)
    }

    @Test func lookup_AfterClose_ThrowsUnavailable() {
        let cache = SQLiteRecordCache()
        cache.committed([.stored(.init(.make(1)))])
        cache.close()
        #expect(throws: JobStoreError.unavailable("store is closed")) { try cache.lookup(jobID(1)) }
    }
}

extension SQLiteRecordCache {
    /// The cached record of `id`, nil on a miss.
    fileprivate func cached(_ id: String) throws -> JobRecord? {
        guard case let .hit(record) = try lookup(id) else { return nil }
        return record
    }

    /// The ticket of a miss, nil on a hit.
    fileprivate func ticket(_ id: String) throws -> Ticket? {
        guard case let .miss(ticket) = try lookup(id) else { return nil }
        return ticket
    }
}
