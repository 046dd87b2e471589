import Foundation
import JobsdAPI
import JobsdMetrics
@testable import JobsdCore
import JobsdStore
import Logging
import MetricsTestKit
import Testing

/// An in-memory store that refuses chosen kinds of writes while told to, like a full disk.
private final class RefusingStore: JobStore, @unchecked Sendable {
    enum Write: Hashable { case insert, update, purge, probe }
    let inner = InMemoryJobStore()
    private let lock = PThreadLock()
    private var refusing: Set<Write> = []  // guarded by `lock`
    private var refusals = 0  // guarded by `lock`
    private var refusedUpdates: [JobState] = []  // guarded by `lock`
    /// Broadcast after each refusal.
    let refused = AsyncCondition()

    func refuse(_ writes: Set<Write>) { lock.withLock { refusing = writes } }
    var refusalCount: Int { lock.withLock { refusals } }
    /// How many refused `update`s stored a record in `state`.
    func refusedUpdates(of state: JobState) -> Int { lock.withLock { refusedUpdates.count { $0 == state } } }

    private func check(_ write: Write) throws {
        let refuse = lock.withLock {
            guard refusing.contains(write) else { return false }
            refusals += 1
            return true
        }
        if refuse {
            refused.broadcast()
            throw JobStoreError.unavailable("database or disk is full")
        }
    }

    func insert(_ record: JobRecord, events: [JobEvent]) async throws -> InsertResult {
        try check(.insert)
        return try await inner.insert(record, events: events)
    }
    func update(_ record: JobRecord, events: [JobEvent]) async throws {
        do { try check(.update) } catch {
            lock.withLock { refusedUpdates.append(record.state) }
            throw error
        }
        try await inner.update(record, events: events)
    }
    func appendEvent(_ event: JobEvent, to id: String) async throws -> JobEvent {
        try check(.update)
        return try await inner.appendEvent(event, to: id)
    }
    func events(of id: String) async throws -> [JobEvent] { try await inner.events(of: id) }
    func observeChanges(_ handler: @escaping @Sendable ([JobChange]) -> Void) { inner.observeChanges(handler) }
    func changes(after: Int64, limit: Int) async throws -> JobChangePage { try await inner.changes(after: after, limit: limit) }
    func lastChangeSeq() async throws -> Int64 { try await inner.lastChangeSeq() }
    func lastEventSeqOfUnfinishedJobs() async throws -> [String: Int] { try await inner.lastEventSeqOfUnfinishedJobs() }
    func probeWrite() async throws { try check(.probe) }
    func get(_ id: String) async throws -> JobRecord? { try await inner.get(id) }
    func list(_ query: JobQuery) async throws -> [JobRecord] { try await inner.list(query) }
    func unfinished() async throws -> [JobRecord] { try await inner.unfinished() }
    func purge(finishedBefore cutoff: Timestamp, limit: Int) async throws -> [String] {
        try check(.purge)
        return try await inner.purge(finishedBefore: cutoff, limit: limit)
    }
    func close() async { await inner.close() }
    func updateAll(_ records: [(record: JobRecord, events: [JobEvent])]) async throws {
        try check(.update)
        try await inner.updateAll(records)
    }
    func insertGroup(_ group: GroupRecord, jobs: [(record: JobRecord, events: [JobEvent])]) async throws {
        try check(.insert)
        try await inner.insertGroup(group, jobs: jobs)
    }
    func updateGroup(_ group: GroupRecord) async throws {
        try check(.update)
        try await inner.updateGroup(group)
    }
    func group(_ id: String) async throws -> GroupRecord? { try await inner.group(id) }
    func listGroups(beforeID: String?, limit: Int) async throws -> [GroupRecord] { try await inner.listGroups(beforeID: beforeID, limit: limit) }
    func unfinishedGroups() async throws -> [GroupRecord] { try await inner.unfinishedGroups() }
}

/// Runs `body` with an engine on `store`; always shuts it down.
private func withEngine(_ store: RefusingStore, _ body: (JobEngine, TestMetrics) async throws -> Void) async throws {
    let dir = NSTemporaryDirectory() + "jobsd-core-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var logger = Logger(label: "jobsd.test")
    logger.logLevel = .critical
    let registry = TestMetrics()
    var configuration = EngineConfiguration(dataDirectory: dir)
    configuration.shutdownTimeout = 0
    let engine = try JobEngine(configuration: configuration, store: store, metrics: registry, logger: logger)
    try await EngineHarness.running(engine, onFailure: { store.refuse([]) }) { try await body(engine, registry) }
}

extension EngineTests {
    @Test func anOutcomeTheStoreRefuses_IsRetriedAsLongAsItTakes_AndReportedOnlyOnceStored() async throws {
        let store = RefusingStore()
        try await withEngine(store) { engine, registry in
            store.refuse([.update, .purge, .probe])
            let evidence = NSTemporaryDirectory() + "jobsd-cleanup-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: evidence) }
            guard case let .created(job) = try await engine.submit(JobSpec(
                command: ["true"], cleanup: CleanupSpec(command: ["touch", evidence])))
            else { throw EngineHarness.Failure.unexpected }
            // Past the old engine's 6 attempts of the final record (after which it reported the job
            // terminal anyway), counting one refused `running` record.
            await store.refused.wait(timeout: 60) { store.refusalCount >= 9 }
            #expect(store.refusalCount >= 9)
            #expect(FileManager.default.fileExists(atPath: evidence), "the cleanup ran; its result waits to be stored")
            #expect(try await engine.job(job.id)?.state.isTerminal == false)
            #expect(try await engine.wait(job.id, timeout: 0.1)?.state.isTerminal == false)
            #expect(engine.storeFault?.contains("full") == true)
            #expect(try registry.expectMeter("jobsd_store_writes_pending").lastValue ?? 0 >= 1)
            #expect(registry.counterTotal(label: "jobsd_store_write_errors_total") >= 9)

            store.refuse([])
            let done = try #require(try await engine.wait(job.id, timeout: 30))
            #expect(done.state == .succeeded)
            #expect(done.cleanup.state == .done)
            let stored = try #require(try await store.inner.get(job.id)).job
            #expect(stored.state == .succeeded && stored.cleanup.state == .done)
            #expect(engine.storeFault == nil)
            #expect(try registry.expectMeter("jobsd_store_writes_pending").lastValue == 0)
        }
    }

    @Test func aRetrysQueuedRecordTheStoreRefuses_IsRetriedUntilStored_LikeATerminalOne() async throws {
        let store = RefusingStore()
        try await withEngine(store) { engine, _ in
            store.refuse([.update, .purge, .probe])
            let spec = JobSpec(command: ["sh", "-c", "exit 1"], retry: RetryPolicy(maxAttempts: 2, backoffSeconds: 600))
            guard case let .created(job) = try await engine.submit(spec) else { throw EngineHarness.Failure.unexpected }
            // The record that queues attempt 2 is refused again and again (not dropped once the
            // process is gone, as a `running` record is: nothing later would carry it).
            let retried = await store.refused.wait(timeout: 60) { store.refusedUpdates(of: .queued) >= 3 }
            #expect(retried, "refused \(store.refusedUpdates(of: .queued)) time(s)")
            #expect(try await engine.job(job.id)?.attempt == 1, "not reported before it is stored")

            store.refuse([])
            // Stored at its next retry (at most `retryBackoffCap` away).
            let deadline = ContinuousClock.now + .seconds(30)
            while try await store.inner.get(job.id)?.job.attempt != 2, ContinuousClock.now < deadline {
                await store.refused.wait(timeout: 0.02) { false }
            }
            let record = try #require(try await store.inner.get(job.id)).job
            #expect(record.state == .queued && record.attempt == 2 && record.attempts.map(\.state) == [.failed])
            let events = try await store.inner.events(of: job.id).map(\.type)
            #expect(events.suffix(2) == [.retryScheduled, .scheduled], "\(events)")
        }
    }

    @Test func theEventsOfAWriteSupersededDuringAStoreFault_AreStoredWithTheNextWrite() async throws {
        let store = RefusingStore()
        try await withEngine(store) { engine, _ in
            store.refuse([.update, .purge, .probe])
            guard case let .created(job) = try await engine.submit(JobSpec(command: ["true"])) else { throw EngineHarness.Failure.unexpected }
            // The `running` write (with `started`) is refused, then superseded once the process
            // exited: its events wait for the final write.
            await store.refused.wait(timeout: 60) {
                engine.state.lock.withLock { engine.state.live[job.id]?.carriedEvents.isEmpty == false }
            }
            let carried = engine.state.lock.withLock { engine.state.live[job.id]?.carriedEvents.map(\.type) }
            #expect(carried?.contains(.started) == true)
            #expect(try await engine.events(job.id)?.map(\.type).contains(.started) == true, "shown from memory meanwhile")

            store.refuse([])
            #expect(try await engine.wait(job.id, timeout: 30)?.state == .succeeded)
            let stored = try await store.inner.events(of: job.id)
            #expect(stored.map(\.type) == [.submitted, .started, .exited, .finished])
            #expect(stored.map(\.seq) == Array(1...stored.count))
        }
    }

    @Test func aRefusedSubmission_StartsAStoreFault_ThatEndsOnceTheStoreTakesWritesAgain() async throws {
        let store = RefusingStore()
        try await withEngine(store) { engine, _ in
            store.refuse([.insert, .purge, .probe])
            await #expect(throws: EngineError.self) { try await engine.submit(JobSpec(command: ["true"])) }
            #expect(engine.storeFault != nil)
            await store.refused.wait(timeout: 60) { store.refusalCount >= 3 }
            #expect(engine.storeFault != nil, "a refused probe does not end the fault")

            store.refuse([])
            await engine.changes.wait(timeout: 30) { engine.storeFault == nil }
            #expect(engine.storeFault == nil, "nothing was pending: the probe write ended the fault")
        }
    }
}
