/// A position in a job's output, to continue reading from. Opaque to the API.
public struct LogCursor: Sendable, Equatable {
    /// The attempt whose output it points into (1-based).
    let attempt: Int
    /// Logical byte offset in that attempt's interleaved output.
    let offset: UInt64
}

/// Output read by `JobEngine.readLogs`.
public struct LogChunk: Sendable {
    /// The bytes, both streams interleaved in arrival order, or one stream.
    public var bytes: [UInt8]
    /// Older bytes were dropped because of the per-job cap (`Jobsd-Log-Truncated: true`).
    public var truncated: Bool
    /// Where to continue reading (for `?follow=true`).
    public var next: LogCursor
    /// The job is terminal: no more output will come once `bytes` up to `next` are sent.
    public var jobTerminal: Bool
}
