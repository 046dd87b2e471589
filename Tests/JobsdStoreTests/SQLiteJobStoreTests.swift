import Foundation
import JobsdAPI
@testable import JobsdStore
import Logging
import Testing

/// What only the durable store promises: data survives reopening, group commit keeps every
/// concurrent write, and bad files or a full disk give clear errors instead of crashes.
@Suite struct SQLiteJobStoreTests {
    let directory = TemporaryDirectory()
    var path: String { directory.path + "/jobs.sqlite" }
    let logger = Logger(label: "jobsd.test.sqlite")

    // MARK: - Durability

    @Test func reopening_ReturnsEveryJobAsLastWritten() async throws {
        defer { directory.remove() }
        let full = JobRecord.full(1)
        var updated = JobRecord.make(2, labels: ["team": "a"])
        do {
            let store = try SQLiteJobStore(path: path, logger: logger)
            _ = try await store.insert(full)
            _ = try await store.insert(updated)
            updated.job.state = .running
            updated.job.pid = 4242
            updated.processStartTicks = 123_456
            try await store.update(updated)
            await store.close()
        }
        let store = try SQLiteJobStore(path: path, logger: logger)
        #expect(try await store.get(full.id) == full)
        #expect(try await store.get(updated.id) == updated)
        #expect(try await store.list(JobQuery(labels: ["team": "a"])) == [updated])
        #expect(try await store.unfinished() == [updated])
        #expect(try await store.insert(.make(3, idempotencyKey: full.idempotencyKey)) == .existing(full))
        await store.close()
    }

    @Test func concurrentWrites_FromManyTasks_AreAllCommitted_AndAFailingOneFailsAlone() async throws {
        defer { directory.remove() }
        let store = try SQLiteJobStore(path: path, logger: logger)
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<64 {
                group.addTask {
                    var failed = 0
                    for n in stride(from: task + 1, through: 500, by: 64) {
                        #expect(try await store.insert(.make(n, labels: ["task": "\(task)"])) == .inserted)
                        do { try await store.update(.make(10_000 + n)) } catch JobStoreError.notFound { failed += 1 }
                    }
                    return failed
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(failures == 500)
        await store.close()

        let reopened = try SQLiteJobStore(path: path, logger: logger)
        let ids = try await reopened.list(JobQuery(limit: 1000)).map(\.id)
        #expect(ids == (1...500).reversed().map(jobID))
        #expect(try await reopened.list(JobQuery(labels: ["task": "3"])).count == 8)
        await reopened.close()
    }

    @Test func duplicateInserts_InBusyBatches_FailAlone_AndLeaveTheStoredJobsAsTheyWere() async throws {
        defer { directory.remove() }
        let store = try SQLiteJobStore(path: path, logger: logger)
        for n in 1...100 { _ = try await store.insert(.make(n)) }
        let duplicates = try await withThrowingTaskGroup(of: Int.self) { group in
            for n in 1...200 {
                group.addTask { () async throws -> Int in
                    do {
                        #expect(try await store.insert(.make(n, state: .running, labels: n % 2 == 0 ? ["k": "v"] : [:])) == .inserted)
                        return 0
                    } catch JobStoreError.duplicateID { return 1 }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(duplicates == 100)
        await store.close()

        let reopened = try SQLiteJobStore(path: path, logger: logger)
        #expect(try await reopened.list(JobQuery(states: [.queued], limit: 500)).count == 100)
        #expect(try await reopened.list(JobQuery(states: [.running], limit: 500)).count == 100)
        #expect(try await reopened.list(JobQuery(labels: ["k": "v"], limit: 500)).map(\.id) == stride(from: 200, to: 100, by: -2).map(jobID))
        await reopened.close()
    }

    @Test func aWriteOfSeveralStatements_ThatFailsPartWay_LeavesNoneOfItsChanges() async throws {
        defer { directory.remove() }
        let store = try SQLiteJobStore(path: path, logger: logger)
        _ = try await store.insert(.make(1))
        _ = try rawInteger(path, "INSERT INTO job_labels (job_id, key, value) VALUES ('\(jobID(2))', 'team', 'stale')")
        // The row of job 2 goes in, then its label collides with the stale one: the insert must
        // fail as a whole, and the other writes of its batch must not.
        let failing = Task { try await store.insert(.make(2, labels: ["team": "a"])) }
        let labelled = Task { try await store.insert(.make(3, labels: ["team": "a"])) }
        let plain = Task { try await store.insert(.make(4)) }
        await #expect(throws: JobStoreError.self) { try await failing.value }
        #expect(try await labelled.value == .inserted)
        #expect(try await plain.value == .inserted)
        await store.close()

        #expect(try rawInteger(path, "SELECT count(*) FROM jobs WHERE id = '\(jobID(2))'") == 0)
        #expect(try rawInteger(path, "SELECT count(*) FROM jobs") == 3)
        #expect(try rawInteger(path, "SELECT count(*) FROM job_labels") == 2)
    }

    @Test func close_WhileWritesAreInFlight_KeepsEveryAcknowledgedInsert() async throws {
        defer { directory.remove() }
        let store = try SQLiteJobStore(path: path, logger: logger)
        let (firstInserted, stream) = AsyncStream.makeStream(of: Void.self)
        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for task in 0..<32 {
                group.addTask { () async throws -> [String] in
                    var done: [String] = []
                    for n in stride(from: task + 1, through: 3200, by: 32) {
                        do {
                            #expect(try await store.insert(.make(n)) == .inserted)
                            done.append(jobID(n))
                            stream.yield()
                        } catch JobStoreError.unavailable { break }
                    }
                    return done
                }
            }
            var first = firstInserted.makeAsyncIterator()
            _ = await first.next()
            await store.close()
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(!acknowledged.isEmpty)
        #expect(acknowledged.count < 3200)

        let reopened = try SQLiteJobStore(path: path, logger: logger)
        let stored = Set(try await reopened.list(JobQuery(limit: 5000)).map(\.id))
        #expect(Set(acknowledged).isSubset(of: stored))
        await reopened.close()
    }

    @Test func close_CheckpointsTheWALIntoTheDatabaseFile() async throws {
        defer { directory.remove() }
        let store = try SQLiteJobStore(path: path, logger: logger)
        _ = try await store.insert(.make(1))
        await store.close()
        let walSize = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        #expect(walSize == 0)
        #expect(try rawInteger(path, "SELECT count(*) FROM jobs") == 1)
    }

    @Test func purge_AlsoDeletesTheLabelRowsOfPurgedJobs() async throws {
        defer { directory.remove() }
        let store = try SQLiteJobStore(path: path, logger: logger)
        let finished = Timestamp(milliseconds: 1_000)
        _ = try await store.insert(.make(1, state: .succeeded, labels: ["a": "1", "b": "2"], finishedAt: finished))
        _ = try await store.insert(.make(2, labels: ["a": "1"]))
        #expect(try await store.purge(finishedBefore: .now()) == [jobID(1)])
        await store.close()
        #expect(try rawInteger(path, "SELECT count(*) FROM job_labels") == 1)
    }

    @Test func aSpecThatAgreesWithItsJob_IsStoredWithoutTheRepeatedFields_AndAnyOtherWhole() async throws {
        defer { directory.remove() }
        // full and agreeing: command, timeouts, name and labels as in their jobs; make: no timeouts in the spec.
        let full = JobRecord.full(1), plain = JobRecord.agreeing(2), differing = JobRecord.make(3)
        do {
            let store = try SQLiteJobStore(path: path, logger: logger)
            for record in [full, plain, differing] { _ = try await store.insert(record) }
            await store.close()
        }
        func storedSpec(_ record: JobRecord) throws -> String? {
            let connection = try SQLiteConnection(path: path)
            defer { connection.close() }
            return try connection.withStatement("SELECT spec FROM jobs WHERE id = ?1") { statement in
                try statement.bind(1, record.id)
                return try statement.step() ? statement.string(0) : nil
            }
        }
        #expect(try storedSpec(plain) == "{}")
        let fullSpec = try #require(try storedSpec(full))
        #expect(fullSpec.hasPrefix(#"{"env":"#) && fullSpec.contains(#""stdin":"#) && fullSpec.contains(#""cleanup":"#))
        #expect(!fullSpec.contains("nightly-export") && !fullSpec.contains("printf"))
        #expect(try storedSpec(differing) == differing.spec.json)

        let store = try SQLiteJobStore(path: path, logger: logger)
        for record in [full, plain, differing] { #expect(try await store.get(record.id) == record) }
        #expect(try await store.list(JobQuery()) == [full, differing, plain], "newest first by created_at (full's is the latest)")
        await store.close()
    }

    // MARK: - Bad files and full disks

    @Test func opening_AVersion1Database_MigratesIt_KeepingJobsLabelsAndIdempotencyKeys() async throws {
        defer { directory.remove() }
        let keyed = JobRecord.make(1, idempotencyKey: "key-1"), labelled = JobRecord.make(2, labels: ["a": "1"])
        let newer = JobRecord.make(5, labels: ["a": "1"])
        do {
            let connection = try SQLiteConnection(path: path)
            defer { connection.close() }
            try connection.execute(SQLiteSchema.migrations[0])
            try connection.execute("PRAGMA user_version = 1")
            for record in [keyed, newer, labelled] { try connection.insertBeforeVersion4(record) }
        }
        let store = try SQLiteJobStore(path: path, logger: logger)
        #expect(try await store.get(keyed.id) == keyed)
        #expect(try await store.list(JobQuery(labels: ["a": "1"])) == [newer, labelled])
        #expect(try await store.list(JobQuery(labels: ["a": "1"], after: JobListPosition(newer.job))) == [labelled])
        #expect(try await store.insert(.make(3, idempotencyKey: "key-1")) == .existing(keyed))
        #expect(try await store.insert(.make(4)) == .inserted)
        await store.close()

        #expect(try rawInteger(path, "PRAGMA user_version") == Int64(SQLiteSchema.currentVersion))
        #expect(try rawInteger(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_autoindex_jobs_2'") == 0)
        #expect(try rawInteger(path, "SELECT \"unique\" FROM pragma_index_list('jobs') WHERE name = 'jobs_by_idempotency_key'") == 1)
    }

    @Test func aVersion2Database_WithWholeSpecs_ReadsBackEveryJob_AfterMigration() async throws {
        defer { directory.remove() }
        let full = JobRecord.full(1), plain = JobRecord.agreeing(2)
        do {
            let connection = try SQLiteConnection(path: path)
            defer { connection.close() }
            for migration in SQLiteSchema.migrations[0..<2] { try connection.execute(migration) }
            try connection.execute("PRAGMA user_version = 2")
            for record in [full, plain] {
                try connection.insertBeforeVersion4(record)
                try connection.withStatement("UPDATE jobs SET spec = ?2 WHERE id = ?1") { statement in
                    try statement.bind(1, record.id)
                    try statement.bind(2, record.spec.json)  // what schema 2 stored
                    _ = try statement.step()
                }
            }
        }
        let store = try SQLiteJobStore(path: path, logger: logger)
        #expect(try await store.get(full.id) == full)
        #expect(try await store.get(plain.id) == plain)
        await store.close()
        #expect(try rawInteger(path, "PRAGMA user_version") == Int64(SQLiteSchema.currentVersion))
    }

    @Test func opening_ADatabaseFromANewerJobsd_ThrowsUnsupportedSchema() async throws {
        defer { directory.remove() }
        await (try SQLiteJobStore(path: path, logger: logger)).close()
        _ = try rawInteger(path, "PRAGMA user_version = 99")
        #expect(throws: JobStoreError.unsupportedSchema(found: 99, supported: SQLiteSchema.currentVersion)) {
            try SQLiteJobStore(path: path, logger: logger)
        }
        #expect(try rawInteger(path, "PRAGMA user_version") == 99)
    }

    @Test func opening_InADirectoryThatCannotExist_ThrowsUnavailableWithTheReason() throws {
        defer { directory.remove() }
        let file = directory.path + "/plain-file"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let error = #expect(throws: JobStoreError.self) { try SQLiteJobStore(path: file + "/jobs.sqlite", logger: logger) }
        guard case let .unavailable(message)? = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
        #expect(message.contains(file + "/jobs.sqlite"))
        #expect(message.contains("Not a directory"))
    }

    @Test func opening_AFileThatIsNotADatabase_ThrowsUnavailable() throws {
        defer { directory.remove() }
        let garbage = Data(String(repeating: "this is not sqlite ", count: 500).utf8)
        #expect(FileManager.default.createFile(atPath: path, contents: garbage))
        let error = #expect(throws: JobStoreError.self) { try SQLiteJobStore(path: path, logger: logger) }
        guard case let .unavailable(message)? = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
        #expect(message.contains("not a jobsd database or is corrupt"))
    }

    /// `max_page_count` stops the file from growing, which SQLite reports exactly as a full disk.
    @Test func commit_WhenTheDiskIsFull_FailsWithUnavailable_AndWorksAgainOnceSpaceIsFreed() async throws {
        defer { directory.remove() }
        func big(_ n: Int, state: JobState = .succeeded) -> JobRecord {
            var record = JobRecord.make(n, state: state, finishedAt: Timestamp(milliseconds: 1_000))
            record.spec.stdin = String(repeating: "\(n)", count: 20_000)
            return record
        }
        do {
            let store = try SQLiteJobStore(path: path, logger: logger)
            for n in 1...3 { _ = try await store.insert(big(n)) }
            await store.close()
        }
        let store = try SQLiteJobStore(path: path, logger: logger, writerPragmas: ["PRAGMA max_page_count = 1"])
        try await expectUnavailable { _ = try await store.insert(big(4, state: .queued)) }
        #expect(try await store.get(jobID(4)) == nil)
        #expect(try await store.list(JobQuery()).count == 3)

        #expect(try await store.purge(finishedBefore: .now()).count == 3)
        #expect(try await store.insert(big(4, state: .queued)) == .inserted)
        #expect(try await store.get(jobID(4)) == big(4, state: .queued))
        await store.close()
    }
}

/// Runs `sql` on its own connection (outside the store) and returns the first column of the first
/// row, if any.
private func rawInteger(_ path: String, _ sql: String) throws -> Int64? {
    let connection = try SQLiteConnection(path: path)
    defer { connection.close() }
    return try connection.withStatement(SQLiteSQL(sql)) { try $0.step() ? $0.int64(0) : nil }
}

extension SQLiteConnection {
    /// Inserts a plain job (and its labels) as a database before schema 4 holds it: the 24 columns
    /// it had (`group_id` and `orchestration`, bound as ?25 and ?26, must be NULL, and
    /// `log_dropped_bytes`, ?27, 0).
    fileprivate func insertBeforeVersion4(_ record: JobRecord) throws {
        let old = StoredJob.columnNames.prefix(24)
        let sql = "INSERT INTO jobs (\(old.joined(separator: ", "))) SELECT " + (1...24).map { "?\($0)" }.joined(separator: ", ")
            + " WHERE ?25 IS NULL AND ?26 IS NULL AND ?27 = 0"
        try withStatement(SQLiteSQL(sql)) { statement in
            try SQLiteEncodedJob(record).bind(to: statement)
            #expect(try !statement.step())
            #expect(changes == 1)
        }
        for (key, value) in record.job.labels {
            try execute("INSERT INTO job_labels (job_id, key, value) VALUES ('\(record.id)', '\(key)', '\(value)')")
        }
    }
}
