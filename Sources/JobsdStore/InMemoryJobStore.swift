import JobsdAPI

/// A `JobStore` in memory, for unit tests and benchmarks; nothing survives the process.
public actor InMemoryJobStore: JobStore {
    private var records: [String: JobRecord] = [:]
    private var byKey: [String: String] = [:]
    private var groups: [String: GroupRecord] = [:]
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
        for g in groups.values where g.group.finishedAt.map({ $0 < cutoff }) ?? false { groups[g.id] = nil }
        return old.map(\.id)
    }

    public func updateAll(_ records: [JobRecord]) throws {
        try checkOpen()
        for r in records where self.records[r.id] == nil { throw JobStoreError.notFound(r.id) }
        for r in records { self.records[r.id] = r }
    }

    public func insertGroup(_ group: GroupRecord, jobs: [JobRecord]) throws {
        try checkOpen()
        guard groups[group.id] == nil else { throw JobStoreError.duplicateID(group.id) }
        for r in jobs where records[r.id] != nil { throw JobStoreError.duplicateID(r.id) }
        groups[group.id] = group
        for r in jobs { records[r.id] = r }
    }

    public func updateGroup(_ group: GroupRecord) throws {
        try checkOpen()
        guard groups[group.id] != nil else { throw JobStoreError.notFound(group.id) }
        groups[group.id] = group
    }

    public func group(_ id: String) throws -> GroupRecord? {
        try checkOpen()
        return groups[id]
    }

    public func listGroups(beforeID: String?, limit: Int) throws -> [GroupRecord] {
        try checkOpen()
        return groups.values.filter { g in beforeID.map { g.id < $0 } ?? true }.sorted { $0.id > $1.id }.prefix(limit).map { $0 }
    }

    public func unfinishedGroups() throws -> [GroupRecord] {
        try checkOpen()
        return groups.values.filter { !$0.group.state.isTerminal }.sorted { $0.id < $1.id }
    }

    public func close() { closed = true }

    private func checkOpen() throws {
        if closed { throw JobStoreError.unavailable("store is closed") }
    }
}
