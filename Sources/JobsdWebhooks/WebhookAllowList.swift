import Foundation

/// Which hosts a job's `notify.url` may name (`--webhook-allow`, CONTRACT.md "Completion
/// webhooks"): any (`*`), or host names compared case-insensitively (an empty list refuses every
/// webhook). The default depends on where jobsd listens (`forListening(onLoopback:)`), so a
/// container is never an open relay by accident.
public enum WebhookAllowList: Sendable, Equatable {
    case any
    case hosts(Set<String>)

    /// Parses the flag's value: `*`, or a comma list of host names (blanks around names ignored,
    /// empty: none allowed).
    public init(argument: String) {
        let names = argument.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        self = names.contains("*") ? .any : .hosts(Set(names))
    }

    /// `*` when jobsd listens on loopback only, else none.
    public static func forListening(onLoopback: Bool) -> WebhookAllowList { onLoopback ? .any : .hosts([]) }

    /// Checks `url` (http or https, a host, an optional port, at most 2048 characters without
    /// blanks or control characters) and that its host is allowed; throws a sentence saying why not.
    public func check(_ url: String) throws(WebhookTargetError) {
        let host = try WebhookTarget(url).host
        switch self {
        case .any: return
        case let .hosts(names) where names.isEmpty:
            throw WebhookTargetError(
                "webhooks are refused: jobsd listens on a non-loopback address and --webhook-allow (JOBSD_WEBHOOK_ALLOW) names no host")
        case let .hosts(names):
            guard names.contains(host) else {
                throw WebhookTargetError("host '\(host)' is not allowed by --webhook-allow (allowed: \(names.sorted().joined(separator: ", ")))")
            }
        }
    }

    /// For the start-up log line.
    public var description: String {
        switch self {
        case .any: "*"
        case let .hosts(names): names.isEmpty ? "none" : names.sorted().joined(separator: ",")
        }
    }
}

/// Why a `notify.url` is refused.
public struct WebhookTargetError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
