import Foundation
import JobsdAPI
@testable import JobsdCore
import JobsdStore
import Logging
import MetricsTestKit
import Testing

/// An in-memory store whose writes of `cancelling` records are slow, like a busy disk.
private struct SlowCancellingWrites: JobStore {
    let inner = InMemoryJobStore()

    func insert(_ record: JobRecord, events: [JobEvent]) async throws -> InsertResult { try await inner.insert(record, events: events) }
    func update(_ record: JobRecord, events: [JobEvent]) async throws {
        if record.state == .cancelling { await AsyncCondition.sleep(0.3) }
        try await inner.update(record, events: events)
    }
    func appendEvent(_ event: JobEvent, to id: String) async throws -> JobEvent { try await inner.appendEvent(event, to: id) }
    func events(of id: String) async throws -> [JobEvent] { try await inner.events(of: id) }
    func observeChanges(_ handler: @escaping @Sendable ([JobChange]) -> Void) { inner.observeChanges(handler) }
    func changes(after: Int64, limit: Int) async throws -> JobChangePage { try await inner.changes(after: after, limit: limit) }
    func lastChangeSeq() async throws -> Int64 { try await inner.lastChangeSeq() }
    func lastEventSeqOfUnfinishedJobs() async throws -> [String: Int] { try await inner.lastEventSeqOfUnfinishedJobs() }
    func get(_ id: String) async throws -> JobRecord? { try await inner.get(id) }
    func list(_ query: JobQuery) async throws -> [JobRecord] { try await inner.list(query) }
    func unfinished() async throws -> [JobRecord] { try await inner.unfinished() }
    func purge(finishedBefore cutoff: Timestamp, limit: Int) async throws -> [String] { try await inner.purge(finishedBefore: cutoff, limit: limit) }
    func close() async { await inner.close() }
    func updateAll(_ records: [(record: JobRecord, events: [JobEvent])]) async throws { try await inner.updateAll(records) }
    func insertGroup(_ group: GroupRecord, jobs: [(record: JobRecord, events: [JobEvent])]) async throws { try await inner.insertGroup(group, jobs: jobs) }
    func updateGroup(_ group: GroupRecord) async throws { try await inner.updateGroup(group) }
    func group(_ id: String) async throws -> GroupRecord? { try await inner.group(id) }
    func listGroups(beforeID: String?, limit: Int) async throws -> [GroupRecord] { try await inner.listGroups(beforeID: beforeID, limit: limit) }
    func unfinishedGroups() async throws -> [GroupRecord] { try await inner.unfinishedGroups() }
}

extension EngineTests {
    @Test func cancel_ReturnsOnlyOnceCancellingIsStored_AndTheFinalRecordIsNotOverwritten() async throws {
        let dir = NSTemporaryDirectory() + "jobsd-core-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = SlowCancellingWrites()
        var logger = Logger(label: "jobsd.test")
        logger.logLevel = .warning
        let engine = try JobEngine(configuration: EngineConfiguration(dataDirectory: dir), store: store, metrics: TestMetrics(), logger: logger)
        let runner = Task { try await engine.run() }
        await engine.waitUntilReady()
        guard case let .created(job) = try await engine.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 1000"], graceSeconds: 5))
        else { throw EngineHarness.Failure.unexpected }
        while try await engine.readLogs(job.id, stream: nil, from: nil).bytes.isEmpty {
            await engine.waitForLogs(job.id, after: LogCursor(attempt: 1, offset: 0), timeout: 1)
        }

        let answer = try await engine.cancel(job.id)
        guard case .cancelling = answer else { throw EngineHarness.Failure.unexpected }
        let stored = try #require(try await store.inner.get(job.id)).job
        #expect([.cancelling, .cancelled].contains(stored.state), "a crash now would recover it as \(stored.state)")
        #expect(stored.cancelRequestedAt != nil)

        let done = try #require(try await engine.wait(job.id, timeout: 30))
        #expect(done.state == .cancelled)
        #expect(try await store.inner.get(job.id)?.state == .cancelled)
        engine.shutdown()
        engine.shutdown()
        try await runner.value
    }
}

extension EngineTests {
    @Test func logFiles_AreCreatedOnlyForJobsThatPrint() async throws {
        try await EngineHarness.with { h in
            let silent = try await h.submit(JobSpec(command: ["true"]))
            let chatty = try await h.submit(JobSpec(command: ["sh", "-c", "echo hi"]))
            _ = try await h.terminal(silent.id)
            _ = try await h.terminal(chatty.id)
            #expect(!FileManager.default.fileExists(atPath: JobLog.directory(dataDirectory: h.dataDirectory, id: silent.id)))
            #expect(try await h.output(silent.id).isEmpty)
            #expect(FileManager.default.fileExists(atPath: JobLog.directory(dataDirectory: h.dataDirectory, id: chatty.id) + "/data"))
            #expect(try await h.output(chatty.id) == "hi\n")
        }
    }
}
