import JobsdAPI

/// A `JobStore` in memory, for unit tests and benchmarks; nothing survives the process.
public actor InMemoryJobStore: JobStore {
    private var records: [String: JobRecord] = [:]
    private var byKey: [String: String] = [:]
    private var timelines: [String: [JobEvent]] = [:]
    private var closed = false

    public init() {}

    public func insert(_ record: JobRecord, events: [JobEvent]) throws -> InsertResult {
        try checkOpen()
        if let key = record.idempotencyKey, let id = byKey[key], let existing = records[id] {
            return .existing(existing)
        }
        guard records[record.id] == nil else { throw JobStoreError.duplicateID(record.id) }
        records[record.id] = record
        if let key = record.idempotencyKey { byKey[key] = record.id }
        timelines[record.id] = []
        append(events, to: record.id)
        return .inserted
    }

    public func update(_ record: JobRecord, events: [JobEvent]) throws {
        try checkOpen()
        guard records[record.id] != nil else { throw JobStoreError.notFound(record.id) }
        records[record.id] = record
        append(events, to: record.id)
    }

    public func appendEvent(_ event: JobEvent, to id: String) throws -> JobEvent {
        try checkOpen()
        guard records[id] != nil else { throw JobStoreError.notFound(id) }
        var numbered = event
        numbered.seq = (timelines[id]?.last?.seq ?? 0) + 1
        timelines[id, default: []].append(numbered)
        return numbered
    }

    public func events(of id: String) throws -> [JobEvent] {
        try checkOpen()
        return timelines[id] ?? []
    }

    public func lastEventSeqOfUnfinishedJobs() throws -> [String: Int] {
        try checkOpen()
        var last: [String: Int] = [:]
        for (id, record) in records where !record.state.isTerminal {
            if let seq = timelines[id]?.last?.seq { last[id] = seq }
        }
        return last
    }

    /// Appends the events whose `seq` is not stored yet, in order.
    private func append(_ events: [JobEvent], to id: String) {
        let stored = timelines[id]?.last?.seq ?? 0
        timelines[id, default: []].append(contentsOf: events.filter { $0.seq > stored })
    }

    public func get(_ id: String) throws -> JobRecord? {
        try checkOpen()
        return records[id]
    }

    public func list(_ query: JobQuery) throws -> [JobRecord] {
        try checkOpen()
        return records.values
            .filter { r in query.matches(r) && (query.beforeID.map { r.id < $0 } ?? true) }
            .sorted { $0.id > $1.id }
            .prefix(query.limit)
            .map { $0 }
    }

    public func unfinished() throws -> [JobRecord] {
        try checkOpen()
        return records.values.filter { !$0.state.isTerminal }.sorted { $0.id < $1.id }
    }

    public func purge(finishedBefore cutoff: Timestamp) throws -> [String] {
        try checkOpen()
        let old = records.values.filter { $0.state.isTerminal && ($0.job.finishedAt.map { $0 < cutoff } ?? false) }
        for r in old {
            records[r.id] = nil
            timelines[r.id] = nil
            if let key = r.idempotencyKey { byKey[key] = nil }
        }
        return old.map(\.id)
    }

    public func close() { closed = true }

    private func checkOpen() throws {
        if closed { throw JobStoreError.unavailable("store is closed") }
    }
}
