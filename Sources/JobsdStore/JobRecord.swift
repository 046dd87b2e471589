import JobsdAPI

/// Everything stored about one job: the public view, the full spec it was submitted with, and the
/// bookkeeping recovery needs (process identity, idempotency key, owner).
public struct JobRecord: Sendable, Equatable {
    /// What the API shows.
    public var job: Job
    /// The spec as accepted (env, stdin and cleanup live only here), with server defaults applied.
    public var spec: JobSpec
    /// `Idempotency-Key` header of the submission, if any; unique among stored jobs.
    public var idempotencyKey: String?
    /// Canonical JSON of the submitted body, compared when the same key comes again.
    public var requestFingerprint: String?
    /// Start time of the main process in clock ticks since boot (`/proc/<pid>/stat` field 22), so a
    /// reused pid is never signalled during recovery. nil until started.
    public var processStartTicks: UInt64?
    /// The node that claimed the job (`job.node`): the lease owner on a shared PostgreSQL store;
    /// nil on a single SQLite node.
    public var owner: String? {
        get { job.node }
        set { job.node = newValue }
    }
    /// The fencing token of the current claim (shared stores): every write of the job's record
    /// must carry the token the store holds, else it is refused (`JobStoreError.leaseLost`). nil
    /// until claimed, and on a single node's store.
    public var fence: Int64?

    public init(
        job: Job, spec: JobSpec, idempotencyKey: String? = nil, requestFingerprint: String? = nil,
        processStartTicks: UInt64? = nil, owner: String? = nil, fence: Int64? = nil
    ) {
        self.job = job
        self.spec = spec
        self.idempotencyKey = idempotencyKey
        self.requestFingerprint = requestFingerprint
        self.processStartTicks = processStartTicks
        self.fence = fence
        self.job.node = owner ?? job.node
    }

    public var id: String { job.id }
    public var state: JobState { job.state }
}
