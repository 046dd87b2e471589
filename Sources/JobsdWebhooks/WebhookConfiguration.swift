/// How completion webhooks are delivered (`--webhook-*` flags; CONTRACT.md "Completion webhooks").
public struct WebhookConfiguration: Sendable {
    /// `--webhook-secret`: signs each body (`Jobsd-Signature`); nil: no signature header.
    public var secret: String?
    /// `--webhook-max-attempts`: attempts per delivery, the first one included.
    public var maxAttempts = 10
    /// `--webhook-allow`; nil: `*` when listening on loopback only, else none.
    public var allow: WebhookAllowList?
    /// Each attempt's whole time limit (connect, send, answer), in seconds.
    public var attemptTimeout = 10.0
    /// The pause after the first failed attempt; it doubles per attempt up to `backoffCap`.
    public var backoffFirst = 1.0
    public var backoffCap = 300.0
    /// Attempts in flight at once, each on a serial Dispatch queue of its own.
    public var concurrency = 4
    /// The longest pause between two looks at the outbox when nothing wakes the delivery loop
    /// (deliveries enqueued by other nodes, claims that ran out).
    public var pollInterval = 1.0

    public init() {}

    /// The pause after failed attempt number `attempt` (1-based): 1 s, 2 s, 4 s, … at most 5 min.
    public func backoff(afterAttempt attempt: Int) -> Double {
        min(backoffFirst * Double(1 << min(max(attempt - 1, 0), 30)), backoffCap)
    }

    /// How long a claim holds a delivery: one attempt, with room to record its outcome.
    var claimDuration: Double { attemptTimeout * 3 + 5 }
}
