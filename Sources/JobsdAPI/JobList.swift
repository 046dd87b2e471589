/// A page of `GET /v1/jobs`: newest first; `nextCursor` is nil on the last page.
public struct JobList: Decodable, Sendable, Equatable {
    public var jobs: [Job]
    public var nextCursor: String?

    public init(jobs: [Job], nextCursor: String?) {
        self.jobs = jobs
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case jobs
        case nextCursor = "next_cursor"
    }

    public var json: String {
        var w = JSONWriter()
        w.raw("{\"jobs\":")
        w.array(jobs) { job, w in job.write(into: &w) }
        w.raw(",\"next_cursor\":")
        w.optional(nextCursor) { $0.string($1) }
        w.raw("}")
        return w.text
    }
}

/// An RFC 9457 problem body (`application/problem+json`), as every 4xx/5xx answer carries.
/// `field` names the offending request field on validation errors; `state` carries the job's
/// current state on a `409`.
public struct Problem: Codable, Sendable, Equatable, Error {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    public var field: String?
    public var state: JobState?

    public init(type: String = "about:blank", title: String, status: Int, detail: String, field: String? = nil, state: JobState? = nil) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.field = field
        self.state = state
    }
}
