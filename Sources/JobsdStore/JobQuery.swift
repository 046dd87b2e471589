import JobsdAPI

/// A filter for listing jobs: newest first (descending id).
public struct JobQuery: Sendable, Equatable {
    /// Any of these states; empty means all.
    public var states: Set<JobState>
    /// All of these label pairs must match.
    public var labels: [String: String]
    /// Only jobs with an id strictly smaller than this (the page cursor).
    public var beforeID: String?
    public var limit: Int
    /// Only the jobs of this group.
    public var groupID: String?

    public init(states: Set<JobState> = [], labels: [String: String] = [:], beforeID: String? = nil, limit: Int = 100, groupID: String? = nil) {
        self.states = states
        self.groupID = groupID
        self.labels = labels
        self.beforeID = beforeID
        self.limit = limit
    }

    /// True when `record` passes the state, label and group filters (not the cursor or limit).
    public func matches(_ record: JobRecord) -> Bool {
        (states.isEmpty || states.contains(record.state))
            && (groupID == nil || record.job.groupID == groupID)
            && labels.allSatisfy { record.job.labels[$0.key] == $0.value }
    }
}
