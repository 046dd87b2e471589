/// Metrics hooks. Called from any thread, synchronously on the server's I/O path: keep them cheap.
public struct HTTPServerObserver: Sendable {
    public var connectionOpened: @Sendable () -> Void
    public var connectionClosed: @Sendable () -> Void
    /// After each response has been handed to the socket, also for responses the server makes itself
    /// (400/408/413/431/501/505/503). `path` is nil and `method` is "UNKNOWN" when no request line was
    /// decoded. `seconds` runs from the complete request to its response.
    public var requestCompleted: @Sendable (_ method: String, _ path: String?, _ status: Int, _ seconds: Double) -> Void

    public init(
        connectionOpened: @escaping @Sendable () -> Void = {},
        connectionClosed: @escaping @Sendable () -> Void = {},
        requestCompleted: @escaping @Sendable (_ method: String, _ path: String?, _ status: Int, _ seconds: Double) -> Void = { _, _, _, _ in }
    ) {
        self.connectionOpened = connectionOpened
        self.connectionClosed = connectionClosed
        self.requestCompleted = requestCompleted
    }
}
