/// Writes the body of a `.stream` response. Each `write` is sent as its own chunk at once (so a
/// client following a log sees output live) and returns when the socket has taken the bytes.
public struct HTTPBodyWriter: Sendable {
    let connection: HTTPConnection

    /// Sends one chunk; throws `HTTPServerError.connectionClosed` when the client has gone away or
    /// the server closed the connection, and `CancellationError` when the request's Task is
    /// cancelled. The handler should then stop. Empty writes are ignored.
    public func write(_ bytes: [UInt8]) async throws {
        try Task.checkCancellation()
        guard !bytes.isEmpty else { return }
        try await connection.writeChunk(bytes)
    }
}
