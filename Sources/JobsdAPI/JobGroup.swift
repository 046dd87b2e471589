/// A group of jobs submitted together (CONTRACT.md, "Orchestration: Groups"): like a task group,
/// its first failing job cancels the others when `failFast` is set.
public struct JobGroup: Decodable, Sendable, Equatable, JSONWritable {
    public var id: String
    public var name: String?
    public var labels: [String: String]
    public var state: GroupState
    public var failFast: Bool
    /// How many of its jobs are in each state (every state present, 0 included).
    public var counts: [JobState: Int]
    /// Its jobs' ids, in submission order.
    public var jobs: [String]
    public var createdAt: Timestamp
    /// When its last job became terminal; nil while it runs.
    public var finishedAt: Timestamp?

    public init(
        id: String, name: String? = nil, labels: [String: String] = [:], state: GroupState = .running, failFast: Bool = true,
        counts: [JobState: Int] = [:], jobs: [String], createdAt: Timestamp, finishedAt: Timestamp? = nil
    ) {
        self.id = id
        self.name = name
        self.labels = labels
        self.state = state
        self.failFast = failFast
        self.counts = counts
        self.jobs = jobs
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, labels, state, counts, jobs
        case failFast = "fail_fast", createdAt = "created_at", finishedAt = "finished_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        state = try c.decode(GroupState.self, forKey: .state)
        failFast = try c.decode(Bool.self, forKey: .failFast)
        let raw = try c.decode([String: Int].self, forKey: .counts)
        counts = Dictionary(uniqueKeysWithValues: raw.compactMap { k, v in JobState(rawValue: k).map { ($0, v) } })
        jobs = try c.decode([String].self, forKey: .jobs)
        createdAt = try c.decode(Timestamp.self, forKey: .createdAt)
        finishedAt = try c.decodeIfPresent(Timestamp.self, forKey: .finishedAt)
    }

    /// The wire JSON (`json`), field order as in CONTRACT.md.
    public func write(into w: inout JSONWriter) {
        w.beginObject(id: id, name: name, labels: labels)
        w.raw(",\"state\":"); w.string(state.rawValue)
        w.raw(",\"fail_fast\":"); w.raw(failFast ? "true" : "false")
        w.raw(",\"counts\":{")
        for (i, s) in JobState.allCases.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(s.rawValue)
            w.raw(":" + String(counts[s] ?? 0))
        }
        w.raw("},\"jobs\":"); w.stringArray(jobs)
        w.raw(",\"created_at\":"); w.string(createdAt.description)
        w.raw(",\"finished_at\":"); w.optional(finishedAt) { $0.string($1.description) }
        w.raw("}")
    }
}

/// `running` until every job of the group is terminal; then `succeeded` (all of them did),
/// `cancelled` (a DELETE of the group came first), else `failed`.
public enum GroupState: String, Codable, Sendable, CaseIterable, Hashable {
    case running, succeeded, failed, cancelled

    public var isTerminal: Bool { self != .running }
}
