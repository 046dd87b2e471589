import JobsdAPI

/// One entry of the store's change log: a job reached `state` (its submission is the change to
/// `queued`). `seq` is strictly increasing in commit order, the same for every reader, and kept
/// across restarts; `GET /v1/events` sends it as the event's `id`.
public struct JobChange: Sendable, Equatable {
    public var seq: Int64
    public var jobID: String
    public var state: JobState
    public var labels: [String: String]
    /// The job's wire JSON as of the change.
    public var json: String

    public init(seq: Int64, jobID: String, state: JobState, labels: [String: String], json: String) {
        self.seq = seq
        self.jobID = jobID
        self.state = state
        self.labels = labels
        self.json = json
    }

    /// An unnumbered change for `job` as it is now (the store numbers it when it commits).
    public init(_ job: Job) {
        self.init(seq: 0, jobID: job.id, state: job.state, labels: job.labels, json: job.json)
    }
}

/// The store's answer to "what changed after `seq`?".
public enum JobChangePage: Sendable, Equatable {
    /// The changes after the cursor, oldest first (at most the limit asked for).
    case changes([JobChange])
    /// Changes after the cursor were swept by retention: no gap-free resume is possible.
    case expired
}
