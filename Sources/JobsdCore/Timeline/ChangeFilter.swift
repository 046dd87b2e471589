import JobsdAPI
import JobsdStore

/// Which changes a `GET /v1/events` stream carries: any of `jobIDs` (empty: all jobs), every
/// label pair of `labels`, any of `states` (empty: all).
public struct ChangeFilter: Sendable {
    public var jobIDs: Set<String>
    public var labels: [String: String]
    public var states: Set<JobState>

    public init(jobIDs: Set<String> = [], labels: [String: String] = [:], states: Set<JobState> = []) {
        self.jobIDs = jobIDs
        self.labels = labels
        self.states = states
    }

    public func matches(_ change: JobChange) -> Bool {
        (jobIDs.isEmpty || jobIDs.contains(change.jobID))
            && (states.isEmpty || states.contains(change.state))
            && labels.allSatisfy { change.labels[$0.key] == $0.value }
    }
}
