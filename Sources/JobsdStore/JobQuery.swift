import JobsdAPI

/// A filter for listing jobs, in list order: newest first (`created_at` descending, then `id`
/// descending).
public struct JobQuery: Sendable, Equatable {
    /// Any of these states; empty means all.
    public var states: Set<JobState>
    /// All of these label pairs must match.
    public var labels: [String: String]
    /// Only jobs that come after this place in list order (the page cursor: the last job of the
    /// previous page).
    public var after: JobListPosition?
    public var limit: Int
    /// Only the jobs of this group.
    public var groupID: String?
    /// Only the runs of this schedule.
    public var scheduleID: String?

    public init(
        states: Set<JobState> = [], labels: [String: String] = [:], after: JobListPosition? = nil, limit: Int = 100, groupID: String? = nil,
        scheduleID: String? = nil
    ) {
        self.states = states
        self.groupID = groupID
        self.scheduleID = scheduleID
        self.labels = labels
        self.after = after
        self.limit = limit
    }

    /// True when `record` passes the state, label and group filters (not the cursor or limit).
    public func matches(_ record: JobRecord) -> Bool {
        (states.isEmpty || states.contains(record.state))
            && (groupID == nil || record.job.groupID == groupID)
            && (scheduleID == nil || record.job.scheduleID == scheduleID)
            && labels.allSatisfy { record.job.labels[$0.key] == $0.value }
    }

    /// True when `job` comes after the cursor in list order (every job does without one).
    public func isPastCursor(_ job: Job) -> Bool {
        after.map { JobListPosition(job) < $0 } ?? true
    }
}

/// A job's place in list order: its `created_at`, then its `id` (ids break ties within a
/// millisecond, also between nodes). Ordered oldest first; lists run newest first.
public struct JobListPosition: Sendable, Hashable, Comparable {
    public var createdAt: Timestamp
    public var id: String

    public init(createdAt: Timestamp, id: String) {
        self.createdAt = createdAt
        self.id = id
    }

    public init(_ job: Job) { self.init(createdAt: job.createdAt, id: job.id) }

    public static func < (a: JobListPosition, b: JobListPosition) -> Bool {
        (a.createdAt.milliseconds, a.id) < (b.createdAt.milliseconds, b.id)
    }
}
