/// Listening address, limits and timeouts of an `HTTPServer`.
public struct HTTPServerConfiguration: Sendable {
    /// IPv4 or IPv6 literal, or "localhost"; "::" or "0.0.0.0" for all interfaces.
    public var host: String = "127.0.0.1"
    /// 0 picks an ephemeral port (see `HTTPServer.waitUntilListening()`).
    public var port: Int = 8080
    public var backlog: Int32 = 4096
    /// A header section (request line included) larger than this is answered with 431.
    public var maxHeaderBytes: Int = 16 * 1024
    /// A body larger than this is answered with 413, decided from Content-Length before reading it.
    public var maxBodyBytes: Int = 1024 * 1024
    /// Time a client has to complete its header section, from accept or from the end of the previous
    /// response (and, while a body is read, the longest pause between its bytes); then 408 and close.
    public var headerTimeout: Duration = .seconds(10)
    /// A keep-alive connection with no request for this long is closed without an answer; also the
    /// longest time a client may leave a response unread.
    public var idleTimeout: Duration = .seconds(60)
    /// Connections beyond this are answered with 503 and closed.
    public var maxConnections: Int = 10_000
    /// After `run()` is cancelled, in-flight requests get this long before their Tasks are cancelled.
    public var shutdownGracePeriod: Duration = .seconds(5)
    /// Serial Dispatch queues that serve the connections, each with its own listening socket
    /// (SO_REUSEPORT) and epoll set; 0 (the default) is one per online core.
    public var eventLoopCount: Int = 0

    public init() {}
}
