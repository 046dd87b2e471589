import JobsdAPI

/// A `JobStore` in memory, for unit tests and benchmarks; nothing survives the process.
public actor InMemoryJobStore: WebhookOutbox {
    private var records: [String: JobRecord] = [:]
    private var byKey: [String: String] = [:]
    private var timelines: [String: [JobEvent]] = [:]
    private var changeLog: [(change: JobChange, at: Timestamp)] = []
    private var lastChange: Int64 = 0
    /// The highest `seq` purged from the change log.
    private var sweptThrough: Int64 = 0
    /// Set once by `observeChanges` (nonisolated: it is called synchronously at start-up).
    private nonisolated let changeHandler = ChangeHandlerBox()
    private var groups: [String: GroupRecord] = [:]
    /// Schedules by id (`InMemoryJobStore+Schedules`).
    var scheduleTable: [String: Schedule] = [:]
    private(set) var closed = false
    /// The webhook outbox by job id, with the claim holding each delivery.
    private var outbox: [String: (delivery: WebhookDelivery, claimedBy: String?, claimedUntil: Timestamp?)] = [:]

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
        logChange(record.job)
        return .inserted
    }

    public func update(_ record: JobRecord, events: [JobEvent]) throws {
        try checkOpen()
        guard let stored = records[record.id] else { throw JobStoreError.notFound(record.id) }
        records[record.id] = record
        append(events, to: record.id)
        if stored.state != record.state {
            logChange(record.job)
            if let delivery = WebhookDelivery.enqueued(by: record), outbox[record.id] == nil { outbox[record.id] = (delivery, nil, nil) }
        }
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

    public nonisolated func observeChanges(_ handler: @escaping @Sendable ([JobChange]) -> Void) {
        changeHandler.set(handler)
    }

    public func changes(after: Int64, limit: Int) throws -> JobChangePage {
        try checkOpen()
        guard after >= sweptThrough else { return .expired }
        return .changes(changeLog.lazy.map(\.change).filter { $0.seq > after }.prefix(limit).map { $0 })
    }

    public func lastChangeSeq() throws -> Int64 {
        try checkOpen()
        return lastChange
    }

    private func logChange(_ job: Job) {
        lastChange += 1
        var change = JobChange(job)
        change.seq = lastChange
        changeLog.append((change, .now()))
        changeHandler.get()?([change])
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
            .filter { r in query.matches(r) && query.isPastCursor(r.job) }
            .sorted { JobListPosition($0.job) > JobListPosition($1.job) }
            .prefix(query.limit)
            .map { $0 }
    }

    public func unfinished() throws -> [JobRecord] {
        try checkOpen()
        return records.values.filter { !$0.state.isTerminal }.sorted { $0.id < $1.id }
    }

    public func purge(finishedBefore cutoff: Timestamp, limit: Int) throws -> [String] {
        try checkOpen()
        let old = records.values.filter { $0.state.isTerminal && ($0.job.finishedAt.map { $0 < cutoff } ?? false) }
            .sorted { $0.job.finishedAt! < $1.job.finishedAt! }.prefix(limit)
        let expired = changeLog.prefix { $0.at < cutoff }.prefix(min(limit, Int(Int32.max)) * changesPerPurgedJob)
        if let last = expired.last { sweptThrough = last.change.seq }
        changeLog.removeFirst(expired.count)
        for r in old {
            records[r.id] = nil
            timelines[r.id] = nil
            outbox[r.id] = nil
            if let key = r.idempotencyKey { byKey[key] = nil }
        }
        for g in groups.values where g.group.finishedAt.map({ $0 < cutoff }) ?? false { groups[g.id] = nil }
        return old.map(\.id)
    }

    public func updateAll(_ records: [(record: JobRecord, events: [JobEvent])]) throws {
        try checkOpen()
        for r in records where self.records[r.record.id] == nil { throw JobStoreError.notFound(r.record.id) }
        for r in records { try update(r.record, events: r.events) }
    }

    public func insertGroup(_ group: GroupRecord, jobs: [(record: JobRecord, events: [JobEvent])]) throws {
        try checkOpen()
        guard groups[group.id] == nil else { throw JobStoreError.duplicateID(group.id) }
        for r in jobs where records[r.record.id] != nil { throw JobStoreError.duplicateID(r.record.id) }
        groups[group.id] = group
        for r in jobs { _ = try insert(r.record, events: r.events) }
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

    // MARK: - WebhookOutbox

    public func nextDeliveryDue() throws -> Timestamp? {
        try checkOpen()
        return outbox.values.map { max($0.delivery.nextAttemptAt, $0.claimedUntil ?? $0.delivery.nextAttemptAt) }.min()
    }

    public func claimDeliveries(owner: String, now: Timestamp, until: Timestamp, limit: Int) throws -> [WebhookDelivery] {
        try checkOpen()
        let due = outbox.values
            .filter { $0.delivery.nextAttemptAt <= now && ($0.claimedUntil.map { $0 < now } ?? true) }
            .map(\.delivery).sorted { ($0.nextAttemptAt, $0.jobID) < ($1.nextAttemptAt, $1.jobID) }.prefix(limit)
        for delivery in due { outbox[delivery.jobID] = (delivery, owner, until) }
        return Array(due)
    }

    public func settleDelivery(_ delivery: WebhookDelivery, owner: String, retryAt: Timestamp?, event: JobEvent) throws -> JobEvent? {
        try checkOpen()
        guard outbox[delivery.jobID]?.claimedBy == owner else { return nil }
        if let retryAt {
            var waiting = delivery
            waiting.nextAttemptAt = retryAt
            outbox[delivery.jobID] = (waiting, nil, nil)
        } else {
            outbox[delivery.jobID] = nil
        }
        return try? appendEvent(event, to: delivery.jobID)
    }

    public func releaseDeliveryClaims(owner: String) throws {
        try checkOpen()
        for (id, entry) in outbox where entry.claimedBy == owner { outbox[id] = (entry.delivery, nil, nil) }
    }

    private func checkOpen() throws {
        if closed { throw JobStoreError.unavailable("store is closed") }
    }
}
