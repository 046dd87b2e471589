/// A job's `retry` field (CONTRACT.md, "Orchestration: Retries"): how many attempts a job gets,
/// how long it waits between them, and which outcomes are retried. `cancelled` is never retried.
public struct RetryPolicy: Codable, Sendable, Equatable {
    /// Attempts in all, the first one included: 1–20.
    public var maxAttempts: Int
    /// Wait after the first failed attempt (counted from the end of its cleanup); doubles after
    /// each further failed attempt, capped at `maxBackoffSeconds`.
    public var backoffSeconds: Double
    /// Outcomes that are retried: `failed` and/or `timed_out`.
    public var on: [JobState]

    public static let defaultBackoffSeconds: Double = 1
    public static let maxBackoffSeconds: Double = 3600
    public static let attemptRange = 1...20
    public static let retriableStates: [JobState] = [.failed, .timedOut]

    public init(maxAttempts: Int, backoffSeconds: Double = RetryPolicy.defaultBackoffSeconds, on: [JobState] = RetryPolicy.retriableStates) {
        self.maxAttempts = maxAttempts
        self.backoffSeconds = backoffSeconds
        self.on = on
    }

    enum CodingKeys: String, CodingKey {
        case on
        case maxAttempts = "max_attempts", backoffSeconds = "backoff_seconds"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxAttempts = try c.decode(Int.self, forKey: .maxAttempts)
        backoffSeconds = try c.decodeIfPresent(Double.self, forKey: .backoffSeconds) ?? Self.defaultBackoffSeconds
        on = try c.decodeIfPresent([JobState].self, forKey: .on) ?? Self.retriableStates
    }

    /// The wait before attempt `next` (2 or more): `backoffSeconds × 2^(next − 2)`, at most 1 h.
    public func backoff(beforeAttempt next: Int) -> Double {
        var delay = backoffSeconds
        var doublings = next - 2
        while doublings > 0, delay < Self.maxBackoffSeconds {
            delay *= 2
            doublings -= 1
        }
        return min(delay, Self.maxBackoffSeconds)
    }

    /// Whether an attempt that ended `state`, as attempt number `attempt`, gets another one.
    public func retries(_ state: JobState, afterAttempt attempt: Int) -> Bool {
        state != .cancelled && on.contains(state) && attempt < maxAttempts
    }

    public func write(into w: inout JSONWriter) {
        w.raw("{\"max_attempts\":"); w.raw(String(maxAttempts))
        w.raw(",\"backoff_seconds\":"); w.number(backoffSeconds)
        w.raw(",\"on\":"); w.stringArray(on.map(\.rawValue))
        w.raw("}")
    }
}
