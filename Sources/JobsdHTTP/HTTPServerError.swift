/// Errors of `HTTPServer` and of `HTTPBodyWriter`.
public enum HTTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `host` is not an IP literal or "localhost", or `port` is out of range.
    case invalidAddress(host: String, port: Int)
    /// socket/bind/listen failed (e.g. the port is in use: errno EADDRINUSE).
    case listenFailed(host: String, port: Int, SyscallError)
    /// `run()` ended before the server was listening (or was never called and the waiter was cancelled).
    case notListening
    /// The client went away or the server closed the connection; a stream handler should stop.
    case connectionClosed

    public var description: String {
        switch self {
        case .invalidAddress(let host, let port): "invalid listen address \(host) port \(port)"
        case .listenFailed(let host, let port, let error): "cannot listen on \(host):\(port): \(error)"
        case .notListening: "the server is not listening"
        case .connectionClosed: "the connection is closed"
        }
    }
}
