import JobsdMetrics

/// A change the writer committed, handed to `SQLiteRecordCache.committed` in commit order.
enum SQLiteCommittedChange: Sendable {
    /// The record as inserted or updated.
    case stored(SQLiteRecordCache.Box)
    /// Ids of purged jobs.
    case removed([String])
}

/// The most recently stored or read job records, so `SQLiteJobStore.get` of a known job answers
/// from memory without a query, a queue hop or a suspension.
///
/// Bounded by a number of records and an estimate of their bytes (stdin and env dominate); when
/// either is exceeded, the CLOCK algorithm (second chance: an entry read since the hand last
/// passed is skipped once) evicts entries. A record bigger than a sixteenth of the byte budget is
/// never cached.
///
/// Consistency: the writer calls `committed` after its transaction committed and before any of
/// its callers resume, so an update that returned is visible here, a failed one never is, and
/// entries follow commit order. A read that missed fills the cache only when no write it might
/// have missed can be lost: every committed batch gets a sequence number, a miss takes the
/// current one as its ticket, and `fill` refuses when the id is cached already (a newer write
/// put it there) or when an entry written after the ticket has since been evicted or purged.
final class SQLiteRecordCache: @unchecked Sendable {
    /// The sequence number when a read missed; see `fill`.
    struct Ticket {
        fileprivate let sequence: UInt64
    }

    enum Lookup {
        case hit(JobRecord)
        case miss(Ticket)
    }

    /// A record behind one reference: storing, evicting or handing over an entry retains one
    /// object, not every field of the record.
    final class Box: Sendable {
        let record: JobRecord

        init(_ record: JobRecord) { self.record = record }
    }

    private struct Entry {
        let id: String
        var boxed: Box
        var bytes: Int
        /// Sequence number of the batch that stored it; 0 for an entry filled by a read.
        var writtenAt: UInt64
        /// Read since the CLOCK hand last passed it.
        var referenced: Bool
    }

    let capacity: Int
    let byteBudget: Int

    // `lock` guards every property below.
    private let lock = PThreadLock()
    /// The CLOCK ring; nil slots are free (after a purge) and listed in `freeSlots`.
    private var slots: [Entry?] = []
    private var freeSlots: [Int] = []
    private var slotByID: [String: Int] = [:]
    private var hand = 0
    private var bytes = 0
    /// Number of the last committed batch.
    private var sequence: UInt64 = 0
    /// The highest `writtenAt` of an entry evicted or purged (a purge counts as its own batch).
    private var lastLostWrite: UInt64 = 0
    private var closed = false

    init(capacity: Int = SQLiteJobStore.defaultCacheRecords, byteBudget: Int = 64 << 20) {
        precondition(capacity > 0 && byteBudget > 0)
        self.capacity = capacity
        self.byteBudget = byteBudget
    }

    /// The cached record of `id`, or a ticket for filling it after a query. Throws `unavailable`
    /// once the store is closed.
    func lookup(_ id: String) throws(JobStoreError) -> Lookup {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { throw .unavailable("store is closed") }
        guard let boxed = referencedBox(id) else { return .miss(Ticket(sequence: sequence)) }
        return .hit(boxed.record)
    }

    /// The cached record of `id` behind its box (one retain, no field copied under the lock);
    /// nil on a miss or once the store is closed.
    func box(_ id: String) -> Box? {
        lock.withLock { closed ? nil : referencedBox(id) }
    }

    /// Under `lock`: the entry of `id`, marked as read for the CLOCK hand.
    private func referencedBox(_ id: String) -> Box? {
        guard let slot = slotByID[id] else { return nil }
        slots[slot]!.referenced = true
        return slots[slot]!.boxed
    }

    /// Caches `record`, read from the database after `ticket` was taken, unless a later write
    /// may have been lost (see the type's comment) or the id is cached already.
    func fill(_ record: JobRecord, ticket: Ticket) {
        lock.withLock {
            guard !closed, lastLostWrite <= ticket.sequence, slotByID[record.id] == nil else { return }
            store(Box(record), writtenAt: 0)
        }
    }

    /// Applies one committed batch, in commit order. Call it after the commit and before resuming
    /// the writers of the batch.
    func committed(_ changes: [SQLiteCommittedChange]) {
        guard !changes.isEmpty else { return }
        lock.withLock {
            guard !closed else { return }
            sequence += 1
            for change in changes {
                switch change {
                case let .stored(record): store(record, writtenAt: sequence)
                case let .removed(ids):
                    lastLostWrite = sequence  // a read that started before the purge may hold a purged row
                    for id in ids { remove(id) }
                }
            }
        }
    }

    /// Drops every entry and the tables' storage (a later lookup misses and its read fills the
    /// entry again). A read that missed before is refused its fill: the dropped entries count as
    /// lost writes.
    func dropAll() {
        lock.withLock {
            lastLostWrite = sequence
            removeAll()
        }
    }

    /// Drops every entry; later lookups throw `unavailable`.
    func close() {
        lock.withLock {
            closed = true
            removeAll()
        }
    }

    var count: Int { lock.withLock { slotByID.count } }

    // MARK: - Entries (under `lock`)

    /// Every entry and the tables' storage.
    private func removeAll() {
        slots = []
        freeSlots = []
        slotByID = [:]
        hand = 0
        bytes = 0
    }

    private func store(_ boxed: Box, writtenAt: UInt64) {
        let record = boxed.record
        let size = Self.estimatedBytes(of: record)
        guard size <= byteBudget / 16 else {  // not cached; neither may an older value be
            lastLostWrite = max(lastLostWrite, writtenAt)
            remove(record.id)
            return
        }
        if let slot = slotByID[record.id] {
            bytes += size - slots[slot]!.bytes
            slots[slot] = Entry(id: record.id, boxed: boxed, bytes: size, writtenAt: writtenAt, referenced: true)
        } else {
            if freeSlots.isEmpty, slots.count >= capacity { evictOne() }
            let entry = Entry(id: record.id, boxed: boxed, bytes: size, writtenAt: writtenAt, referenced: false)
            let slot: Int
            if let free = freeSlots.popLast() {
                slot = free
                slots[slot] = entry
            } else {
                slot = slots.count
                slots.append(entry)
            }
            slotByID[record.id] = slot
            bytes += size
        }
        while bytes > byteBudget { evictOne() }
    }

    /// Advances the CLOCK hand to the first entry not read since it last passed, and evicts it.
    private func evictOne() {
        while true {
            hand = hand + 1 < slots.count ? hand + 1 : 0
            guard let referenced = slots[hand]?.referenced else { continue }
            if referenced {
                slots[hand]!.referenced = false
                continue
            }
            lastLostWrite = max(lastLostWrite, slots[hand]!.writtenAt)
            remove(slots[hand]!.id)
            return
        }
    }

    private func remove(_ id: String) {
        guard let slot = slotByID.removeValue(forKey: id) else { return }
        bytes -= slots[slot]!.bytes
        slots[slot] = nil
        freeSlots.append(slot)
    }

    /// A rough size in bytes: a fixed overhead plus the text a submission can make large.
    static func estimatedBytes(of record: JobRecord) -> Int {
        let spec = record.spec
        var size = 1024 + (spec.stdin?.utf8.count ?? 0) + (record.requestFingerprint?.utf8.count ?? 0)
        for argument in spec.command { size += 2 * argument.utf8.count }
        for (key, value) in spec.env { size += key.utf8.count + value.utf8.count }
        for (key, value) in spec.labels { size += 2 * (key.utf8.count + value.utf8.count) }
        return size
    }
}
