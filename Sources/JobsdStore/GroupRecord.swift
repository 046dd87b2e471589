import JobsdAPI

/// Everything stored about one group of jobs: the public view (its `counts` are stored once the
/// group is terminal; while it runs the engine counts its jobs) and what decided its outcome.
public struct GroupRecord: Sendable, Equatable {
    public var group: JobGroup
    /// When `DELETE /v1/groups/{id}` first came; nil: never.
    public var cancelRequestedAt: Timestamp?
    /// The job whose failure cancelled the others (fail_fast); nil: none failed first.
    public var failedBy: String?

    public init(group: JobGroup, cancelRequestedAt: Timestamp? = nil, failedBy: String? = nil) {
        self.group = group
        self.cancelRequestedAt = cancelRequestedAt
        self.failedBy = failedBy
    }

    public var id: String { group.id }
}
