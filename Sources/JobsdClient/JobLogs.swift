/// A job's output as `GET /v1/jobs/{id}/logs` returns it.
public struct JobLogs: Sendable, Equatable {
    /// The bytes as the process wrote them (stdout and stderr interleaved unless one was picked).
    public var bytes: [UInt8]
    /// True when the per-job cap dropped the oldest bytes (`Jobsd-Log-Truncated: true`).
    public var truncated: Bool

    public init(bytes: [UInt8], truncated: Bool) {
        self.bytes = bytes
        self.truncated = truncated
    }

    /// The output as UTF-8 text (invalid bytes replaced).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
