import JobsdAPI

/// Why a client call failed.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// No usable answer: connection refused, DNS, timeout, reset… (curl's error text).
    case connection(String)
    /// The server answered with an `application/problem+json` body.
    case problem(Problem)
    /// The server answered a status the call does not expect, without a problem body.
    case unexpected(status: Int, body: String)
    /// A success answer whose body is not what the API promises.
    case decoding(String)
    /// The calling task was cancelled and the transfer aborted.
    case cancelled

    public var description: String {
        switch self {
        case let .connection(text): text
        case let .problem(p): "\(p.status) \(p.title): \(p.detail)"
        case let .unexpected(status, body): body.isEmpty ? "unexpected HTTP status \(status)" : "unexpected HTTP status \(status): \(body)"
        case let .decoding(text): "cannot decode the server's answer: \(text)"
        case .cancelled: "cancelled"
        }
    }
}
