import JobsdAPI

/// A `JobStore` in memory, for unit tests and benchmarks; nothing survives the process.
public actor InMemoryJobStore: JobStore {
    private var records: [String: JobRecord] = [:]
    private var byKey: [String: String] = [:]
    private var closed = false

    public init() {}

    public func insert(_ record: JobRecord) throws -> InsertResult {
        try checkOpen()
        if let key = record.idempotencyKey, let id = byKey[key], let existing = records[id] {
            return .existing(existing)
        }
        guard records[record.id] == nil else { throw JobStoreError.duplicateID(record.id) }
        records[record.id] = record
        if let key = record.idempotencyKey { byKey[key] = record.id }
        return .inserted
    }

    public func update(_ record: JobRecord) throws {
        try checkOpen()
        guard records[record.id] != nil else { throw JobStoreError.notFound(record.id) }
        records[record.id] = record
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
            if let key = r.idempotencyKey { byKey[key] = nil }
        }
        return old.map(\.id)
    }

    public func close() { closed = true }

    private func checkOpen() throws {
        if closed { throw JobStoreError.unavailable("store is closed") }
    }
}
