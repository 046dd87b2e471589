import JobsdAPI
import JobsdHTTP

/// Every way an API request can fail, each carrying its HTTP status. `response` is the one place
/// these become `application/problem+json` answers.
enum APIError: Error, Equatable {
    /// A request field or parameter is invalid (400); `field` names it.
    case invalid(field: String, detail: String)
    case malformedBody(String)
    case notFound(String)
    case unauthorized
    /// DELETE on a job whose outcome is decided (409); carries the outcome state.
    case conflict(state: JobState, detail: String)
    case idempotencyMismatch(jobID: String)
    case queueFull(limit: Int)
    case shuttingDown
    case storeUnavailable(String)
    /// What the request asks for existed but is gone for good (410): an event-stream cursor
    /// older than retention.
    case gone(String)
    /// The server does not allow what the request asks (403): a raw command under
    /// `--templates-only`.
    case forbidden(String)

    /// The sentence of an `invalid` or `malformedBody` error (the loader of templates quotes it).
    var detail: String {
        switch self {
        case let .invalid(_, detail), let .malformedBody(detail): detail
        default: "\(self)"
        }
    }

    var response: HTTPResponse {
        switch self {
        case let .invalid(field, detail):
            return .problem(status: 400, detail: detail, extra: [("field", field)])
        case let .malformedBody(detail):
            return .problem(status: 400, detail: detail)
        case let .notFound(detail):
            return .problem(status: 404, detail: detail)
        case .unauthorized:
            return .problem(status: 401, detail: "a valid 'Authorization: Bearer <token>' header is required",
                            headers: [("WWW-Authenticate", "Bearer realm=\"jobsd\"")])
        case let .conflict(state, detail):
            return .problem(status: 409, detail: detail, extra: [("state", state.rawValue)])
        case let .idempotencyMismatch(jobID):
            return .problem(status: 422, detail: "Idempotency-Key was already used for job \(jobID) with a different body",
                            extra: [("job_id", jobID)])
        case let .queueFull(limit):
            return .problem(status: 429, detail: "the queue is full (\(limit) jobs waiting); retry later",
                            headers: [("Retry-After", "1")])
        case .shuttingDown:
            return .problem(status: 503, detail: "jobsd is shutting down and accepts no new jobs",
                            headers: [("Retry-After", "5")])
        case let .gone(detail):
            return .problem(status: 410, detail: detail)
        case let .forbidden(detail):
            return .problem(status: 403, detail: detail)
        case let .storeUnavailable(why):
            return .problem(status: 503, detail: "the job store is unavailable: \(why)", headers: [("Retry-After", "5")])
        }
    }
}
