import Dispatch
import JobsdAPI
@testable import JobsdStore
import JobsdTesting
import Logging
import Testing

/// What only output in PostgreSQL has: batches instead of a statement a write, rows the cap
/// passed deleted, and a job purged while its node still writes.
@Suite struct PostgresJobLogTests {
    @Test func aChattyJob_IsStoredInAFewBatches_NotAStatementAWrite() async throws {
        let store = try await Self.open()
        let id = try await Self.started(1, in: store)
        let log = store.logStore(dataDirectory: "/nonexistent").create(id, maxBytes: 10_000_000, owner: nil) {}
        let before = await store.roundTrips()
        let line = Array("a line of output\n".utf8)
        for _ in 0..<10_000 { line.withUnsafeBytes { log.append($0, stream: .stdout) } }
        await log.close()
        let statements = await store.roundTrips() - before
        #expect(statements < 50, "10 000 writes took \(statements) round trips")
        #expect(try await store.logStore(dataDirectory: "/nonexistent").read(id, stream: nil, from: nil).bytes.count == 170_000)
        await store.close()
    }

    @Test func rowsWhollyBeforeTheKeptBytes_AreDeleted() async throws {
        let store = try await Self.open()
        let id = try await Self.started(1, in: store)
        let logs = store.logStore(dataDirectory: "/nonexistent")
        let log = logs.create(id, maxBytes: 1000, owner: nil) {}
        for n in 0..<8 {
            // One batch each: 300 bytes, then waiting until they are readable.
            [UInt8](repeating: UInt8(ascii: "a") + UInt8(n), count: 300).withUnsafeBytes { log.append($0, stream: .stdout) }
            while log.endOffset < UInt64(300 * (n + 1)) { await Self.pause() }
        }
        await log.close()
        let rows = try await store.pool.run { connection in
            try connection.query("SELECT count(*), min(off) FROM job_output WHERE job_id = $1", [id]).rows.first.map {
                ($0.int64(0) ?? -1, $0.int64(1) ?? -1)
            }
        }
        #expect(rows?.0 == 4, "1000 bytes kept span at most four rows of 300")
        #expect(rows?.1 == 1200, "the oldest row left holds the oldest kept byte (2400 - 1000)")
        let kept = try await logs.read(id, stream: nil, from: nil)
        #expect(kept.bytes.count == 1000)
        #expect(kept.truncated)
        await store.close()
    }

    @Test func outputOfAJobPurgedMeanwhile_IsDropped_AndClosingReturns() async throws {
        let store = try await Self.open()
        let record = JobRecord.make(1, state: .succeeded, finishedAt: Timestamp(milliseconds: 1_000))
        _ = try await store.insert(record)
        let logs = store.logStore(dataDirectory: "/nonexistent")
        let log = logs.create(record.id, maxBytes: 1000, owner: nil) {}
        #expect(try await store.purge(finishedBefore: Timestamp(milliseconds: 2_000)) == [record.id])
        Array("too late".utf8).withUnsafeBytes { log.append($0, stream: .stdout) }
        await log.close()
        #expect(log.endOffset == 0, "nothing was stored")
        #expect(try await logs.read(record.id, stream: nil, from: nil).bytes.isEmpty)
        await store.close()
    }

    @Test func aBatchTheDatabaseRefuses_IsCounted_AndTheLogSaysWhenItStoresAgain() async throws {
        let store = try await Self.open()
        let record = JobRecord.make(1, state: .succeeded, finishedAt: Timestamp(milliseconds: 1_000))
        _ = try await store.insert(record)
        let logs = store.logStore(dataDirectory: "/nonexistent")
        let drops = DropRecorder()
        let log = logs.create(record.id, maxBytes: 1000, owner: nil, onReadable: {}, onDrop: drops.record)
        // Refused for good: the job's row is gone (the foreign key).
        #expect(try await store.purge(finishedBefore: Timestamp(milliseconds: 2_000)) == [record.id])
        Array("refused".utf8).withUnsafeBytes { log.append($0, stream: .stdout) }
        for _ in 0..<3000 where drops.changes.isEmpty { await Self.pause() }
        #expect(drops.changes == [.started(error: "the job is gone")])
        #expect(log.droppedBytes == 7)

        _ = try await store.insert(record)
        Array("stored".utf8).withUnsafeBytes { log.append($0, stream: .stderr) }
        await log.close()
        #expect(drops.changes.dropFirst() == [.ended(bytes: 7)])
        #expect(log.droppedBytes == 7)
        #expect(String(decoding: try await logs.read(record.id, stream: nil, from: nil).bytes, as: UTF8.self) == "stored")
        await store.close()
    }

    // MARK: - Helpers

    private static func open() async throws -> PostgresJobStore {
        let url = try await TestPostgres.freshDatabaseURL()
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try PostgresJobStore(url: url, logger: Logger(label: "jobsd.test.postgres")) })
            }
        }
    }

    private static func started(_ n: Int, in store: PostgresJobStore) async throws -> String {
        var record = JobRecord.make(n)
        record.job.state = .running
        _ = try await store.insert(record)
        return record.id
    }

    /// A short pause while polling a condition that another thread makes true.
    private static func pause() async {
        try? await Task.sleep(for: .milliseconds(10))
    }
}
