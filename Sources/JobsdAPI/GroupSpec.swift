/// What a client submits in `POST /v1/groups`.
public struct GroupSpec: Codable, Sendable, Equatable {
    public var name: String?
    public var labels: [String: String]
    /// The first job that ends `failed` or `timed_out` (after its retries) cancels the others.
    public var failFast: Bool
    /// 1–1000 job specs, validated all or nothing.
    public var jobs: [JobSpec]

    public init(name: String? = nil, labels: [String: String] = [:], failFast: Bool = true, jobs: [JobSpec]) {
        self.name = name
        self.labels = labels
        self.failFast = failFast
        self.jobs = jobs
    }

    public static let maxJobs = 1000

    enum CodingKeys: String, CodingKey {
        case name, labels, jobs
        case failFast = "fail_fast"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        failFast = try c.decodeIfPresent(Bool.self, forKey: .failFast) ?? true
        jobs = try c.decode([JobSpec].self, forKey: .jobs)
    }

    /// The JSON request body.
    public var json: String {
        var w = JSONWriter()
        w.raw("{")
        if let name { w.raw("\"name\":"); w.string(name); w.raw(",") }
        w.raw("\"labels\":"); w.stringMap(labels)
        w.raw(",\"fail_fast\":"); w.raw(failFast ? "true" : "false")
        w.raw(",\"jobs\":[")
        for (i, job) in jobs.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw(job.json)
        }
        w.raw("]}")
        return w.text
    }
}
