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
    /// The node that runs (or last ran) the job. A single SQLite node leaves it nil; a shared
    /// PostgreSQL store uses it as the lease owner.
    public var owner: String?

    public init(
        job: Job, spec: JobSpec, idempotencyKey: String? = nil, requestFingerprint: String? = nil,
        processStartTicks: UInt64? = nil, owner: String? = nil
    ) {
        self.job = job
        self.spec = spec
        self.idempotencyKey = idempotencyKey
        self.requestFingerprint = requestFingerprint
        self.processStartTicks = processStartTicks
        self.owner = owner
    }

    public var id: String { job.id }
    public var state: JobState { job.state }
}
