import JobsdAPI

/// A `JobStore` that several jobsd nodes share (PostgreSQL). The engine of each node claims the
/// queued jobs it runs (`claimQueued`) instead of running every queued job it finds, renews its
/// lease with `heartbeat` (which also rescues the jobs of silent nodes), and tells other nodes
/// about new jobs and cancels through `notify`/`listen`. A store one node owns (SQLite, memory)
/// is not a `SharedJobStore`: there, every queued job is that node's, claimed by being queued.
///
/// Fencing: a claim gives the job a new token (`JobRecord.fence`); `update` of a record whose
/// token is not the stored one throws `leaseLost` and changes nothing — except the one write a
/// rescued attempt's old owner still makes: the record that ends that attempt, of which only the
/// cleanup outcome and the events the rescue did not write are stored.
public protocol SharedJobStore: JobStore {
    /// Claims up to `limit` queued jobs that no node holds, oldest id first, for `node`, each with
    /// a new fencing token, and stores them `running` (started now, no pid yet): a claim is a
    /// start, so a node that dies between claim and spawn has its claims rescued as interrupted,
    /// never run a second time. Jobs another node is claiming at the same moment are skipped,
    /// never waited for (`FOR UPDATE SKIP LOCKED`): each job is claimed by exactly one node.
    /// Orchestration holds across nodes: a job whose `run_at` is ahead is not claimed, nor one
    /// whose concurrency key has `concurrency_limit` jobs running on any node, nor one with an
    /// earlier due job of its key still waiting. Each job comes with the `seq` of its last
    /// timeline event (the claiming node numbers the next ones). Claim order is priority order
    /// (`Job.priority`): lowest `created_at − priority × agingMilliseconds` first, then id; the
    /// result is in that order.
    func claimQueued(node: String, limit: Int, agingMilliseconds: Int64) async throws -> [(record: JobRecord, lastEventSeq: Int)]
    /// Stores the jobs of `ids` that are queued and that no node has claimed as `cancelled` at
    /// `at` (cleanup `none`, `error` as their error) and returns them, in one transaction with
    /// each one's timeline `events` (numbered after its last stored one; their `seq` is ignored)
    /// and its change-feed entry, like every other change of state. The others (claimed, running,
    /// terminal, unknown) are left alone and not returned.
    func cancelUnclaimed(_ ids: [String], at: Timestamp, error: String?, events: [JobEvent]) async throws -> [JobRecord]
    /// A cancel through a node that does not hold the job: stores a `running` job as `cancelling`
    /// (`cancel_requested_at` now) and tells its holder on `channel` with `payload`, in one
    /// transaction; returns the stored record, nil when the job was not running (then nothing is
    /// stored, and the holder is told all the same).
    func requestCancel(_ id: String, channel: String, payload: String) async throws -> JobRecord?
    /// Renews `node`'s lease (its row in the node table, stamped with the database's clock) and
    /// gives the queued jobs that nodes silent for more than `timeout` seconds held back to the
    /// queue. Returns those, whether silent nodes hold running jobs (`rescue` them), and the
    /// attempts of `node` itself that other nodes rescued and whose leftovers and cleanup are
    /// still to do on this node. Never waits for another node's locks beyond row locks of its
    /// own lease (it runs on a connection of its own, so a burst of requests cannot delay it).
    func heartbeat(_ node: NodeRecord, timeout: Double) async throws -> Heartbeat
    /// Rescues the running and `cancelling` jobs of nodes (other than `node`) silent for more
    /// than `timeout` seconds, in one transaction: each one, locked (skipping those another
    /// node is rescuing), with `log_bytes` what its stored output holds, goes to `decide` with the
    /// database's clock, and the record `decide` returns is stored — a terminal one with a new
    /// fencing token (its old owner's writes are refused from then on, see `update`), a queued
    /// one (a retry) unclaimed — with its `events` (numbered after the job's last ones), its
    /// change-feed entry and, when terminal, its webhook delivery. The rescued attempt is kept
    /// for its old owner (`Heartbeat.takenOver`) until that node ends it. Returns the records
    /// stored.
    func rescue(
        node: String, timeout: Double, _ decide: @escaping @Sendable (JobRecord, Timestamp) -> (record: JobRecord, events: [JobEvent])
    ) async throws -> [JobRecord]
    /// Every node that renewed a lease, by id; `alive` when seen within `timeout` seconds.
    func nodes(timeout: Double) async throws -> [NodeRecord]
    /// Gives back jobs `node` claimed but did not spawn (shutdown): queued again, for other nodes,
    /// each with its change-feed entry.
    func release(_ ids: [String], node: String) async throws
    /// Sends `payload` to every node listening on `channel`.
    func notify(channel: String, payload: String) async throws
    /// NOTIFY channel on which every commit that logs changes names its last change's `seq`.
    var changesChannel: String { get }
    /// Hands the changes other nodes committed since the last one handed over to the observer
    /// (`observeChanges`), in `seq` order after this node's own; nothing is read when `notified`
    /// (a `changesChannel` payload) was handed over already. Call it on such a notification, when
    /// the listener reconnects and now and then (notifications can be missed).
    func catchUpChanges(notified: Int64?) async throws
    /// Delivers every notification on `channels` to `handler` until the returned listener is
    /// stopped; reconnects by itself (`onReconnect` then: notifications may have been missed).
    func listen(
        channels: [String], handler: @escaping @Sendable (PostgresListener.Notification) -> Void,
        onReconnect: @escaping @Sendable () -> Void
    ) async throws -> PostgresListener
}

/// What one `SharedJobStore.heartbeat` found.
public struct Heartbeat: Sendable, Equatable {
    /// Ids of the queued jobs of silent nodes this heartbeat gave back to the queue.
    public var requeued: [String]
    /// Silent nodes hold running or `cancelling` jobs: `rescue` them.
    public var rescuable: Bool
    /// Attempts of the calling node that another node rescued and whose processes and cleanup
    /// are still to be dealt with here.
    public var takenOver: [TakenOverAttempt]

    public init(requeued: [String] = [], rescuable: Bool = false, takenOver: [TakenOverAttempt] = []) {
        self.requeued = requeued
        self.rescuable = rescuable
        self.takenOver = takenOver
    }
}

/// An attempt of a job that another node rescued from its node: the job as stored now (it may be
/// terminal, queued for its next attempt, or running that one elsewhere) and the number of the
/// attempt whose processes and cleanup its old node still has to deal with.
public struct TakenOverAttempt: Sendable, Equatable {
    public var record: JobRecord
    public var attempt: Int

    public init(record: JobRecord, attempt: Int) {
        self.record = record
        self.attempt = attempt
    }
}

/// One node of a cluster (`GET /v1/nodes`).
public struct NodeRecord: Sendable, Equatable {
    public var id: String
    /// The URL the node serves on (`--advertise-url`).
    public var address: String
    public var startedAt: Timestamp
    public var lastSeenAt: Timestamp
    public var running: Int
    public var maxRunning: Int
    public var alive: Bool

    public init(id: String, address: String, startedAt: Timestamp, lastSeenAt: Timestamp, running: Int, maxRunning: Int, alive: Bool) {
        self.id = id
        self.address = address
        self.startedAt = startedAt
        self.lastSeenAt = lastSeenAt
        self.running = running
        self.maxRunning = maxRunning
        self.alive = alive
    }
}
