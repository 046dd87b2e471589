import JobsdAPI
import JobsdStore
import Testing

/// The `JobStore` contract for orchestration (groups, batches, a job's schedule, key, retry
/// policy and attempts), run against every implementation.
@Suite struct JobStoreOrchestrationContractTests {
    static func orchestrated(_ n: Int, groupID: String? = nil) -> JobRecord {
        var record = JobRecord.make(n, state: .queued)
        record.job.runAt = Timestamp(milliseconds: 1_800_000_000_123)
        record.job.concurrencyKey = "deploy \"prod\""
        record.job.concurrencyLimit = 3
        record.job.retry = RetryPolicy(maxAttempts: 4, backoffSeconds: 0.5, on: [.timedOut])
        record.job.attempt = 3
        record.job.groupID = groupID
        record.job.attempts = [
            JobAttempt(attempt: 1, startedAt: Timestamp(milliseconds: 1_700_000_000_000), finishedAt: Timestamp(milliseconds: 1_700_000_001_000),
                       exitCode: nil, signal: "SIGKILL", error: "timed out after 1 s; stopped with SIGKILL", state: .timedOut),
            JobAttempt(attempt: 2, startedAt: nil, finishedAt: Timestamp(milliseconds: 1_700_000_002_000), exitCode: 3, signal: nil, error: nil, state: .failed),
        ]
        return record
    }

    @Test(arguments: StoreFactory.all)
    func aJobsScheduleKeyRetryPolicyAndAttempts_RoundTrip(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let record = Self.orchestrated(1)
            #expect(try await store.insert(record) == .inserted)
            #expect(try await store.get(record.id) == record)
            var next = record
            next.job.attempt = 4
            next.job.attempts.append(JobAttempt(attempt: 3, startedAt: nil, finishedAt: Timestamp(milliseconds: 1_700_000_003_000), exitCode: 1, signal: nil, error: nil, state: .failed))
            try await store.update(next)
            #expect(try await store.get(record.id) == next)
            #expect(try await store.unfinished() == [next])
        }
    }

    @Test(arguments: StoreFactory.all)
    func aGroup_IsStoredWithItsJobs_ListedNewestFirst_AndUpdated(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            func group(_ n: Int, jobs: [JobRecord]) -> GroupRecord {
                GroupRecord(group: JobGroup(
                    id: jobID(100 + n), name: "g\(n)", labels: ["team": "data"], failFast: n % 2 == 0, jobs: jobs.map(\.id),
                    createdAt: Timestamp(milliseconds: 1_700_000_000_000 + Int64(n))))
            }
            let jobs = [Self.orchestrated(1, groupID: jobID(101)), Self.orchestrated(2, groupID: jobID(101))]
            let first = group(1, jobs: jobs), second = group(2, jobs: [])
            let changesBefore = try await store.lastChangeSeq()
            try await store.insertGroup(first, jobs: jobs.map { ($0, [JobEvent(.submitted, at: $0.job.createdAt, seq: 1)]) })
            try await store.insertGroup(second, jobs: [])
            #expect(try await store.group(first.id) == first)
            for job in jobs {
                #expect(try await store.get(job.id) == job)
                #expect(try await store.events(of: job.id).map(\.type) == [.submitted])
            }
            #expect(try await store.lastChangeSeq() == changesBefore + 2)
            #expect(try await store.list(JobQuery(groupID: first.id)).map(\.id) == [jobs[1].id, jobs[0].id])
            #expect(try await store.listGroups(beforeID: nil, limit: 10).map(\.id) == [second.id, first.id])
            #expect(try await store.listGroups(beforeID: second.id, limit: 10).map(\.id) == [first.id])
            #expect(try await store.unfinishedGroups().map(\.id) == [first.id, second.id])

            var done = first
            done.group.state = .failed
            done.group.counts = [.failed: 1, .cancelled: 1]
            done.group.finishedAt = Timestamp(milliseconds: 1_700_000_009_000)
            done.failedBy = jobs[0].id
            done.cancelRequestedAt = Timestamp(milliseconds: 1_700_000_008_000)
            try await store.updateGroup(done)
            #expect(try await store.group(first.id) == done)
            #expect(try await store.unfinishedGroups().map(\.id) == [second.id])
            #expect(try await store.group(jobID(999)) == nil)
        }
    }

    @Test(arguments: StoreFactory.all)
    func aGroupWhoseJobIDIsTaken_StoresNothing(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            _ = try await store.insert(JobRecord.make(1))
            let group = GroupRecord(group: JobGroup(id: jobID(100), jobs: [jobID(2), jobID(1)], createdAt: Timestamp(milliseconds: 1)))
            await #expect(throws: (any Error).self) { try await store.insertGroup(group, jobs: [(JobRecord.make(2), []), (JobRecord.make(1), [])]) }
            #expect(try await store.group(group.id) == nil)
            #expect(try await store.get(jobID(2)) == nil)
        }
    }

    @Test(arguments: StoreFactory.all)
    func updateAll_ReplacesEveryRecord_WithItsEvents_AndLogsEachChangeOfState(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            var records = (1...50).map { JobRecord.make($0) }
            for record in records { _ = try await store.insert(record) }
            let changesBefore = try await store.lastChangeSeq()
            for i in records.indices { records[i].job.state = .cancelled }
            try await store.updateAll(records.map { ($0, [JobEvent(.finished, seq: 1, [.init("state", .string("cancelled"))])]) })
            for record in records {
                #expect(try await store.get(record.id) == record)
                #expect(try await store.events(of: record.id).map(\.type) == [.finished])
            }
            #expect(try await store.lastChangeSeq() == changesBefore + 50)
        }
    }
}
