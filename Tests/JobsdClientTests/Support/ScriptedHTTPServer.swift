import Foundation
import Glibc

/// A minimal HTTP/1.1 server for client tests, on 127.0.0.1 port 0: blocking sockets on
/// dedicated threads (never the cooperative pool), keep-alive, `Expect: 100-continue`, and a
/// count of accepted connections. Every request goes to one handler, which writes the answer.
final class ScriptedHTTPServer: @unchecked Sendable {
    struct Request: Sendable {
        var method: String
        var target: String
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    typealias Handler = @Sendable (Request, Connection) -> Void

    let port: UInt16
    private let listener: Int32
    private let handler: Handler
    // `lock` guards `accepted` and `open` (fds of live connections, shut down by `stop`).
    private let lock = NSLock()
    private var accepted = 0
    private var open: Set<Int32> = []

    var acceptedConnections: Int { lock.withLock { accepted } }

    init(handler: @escaping Handler) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard let port = Self.bindLoopback(fd), listen(fd, 64) == 0 else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        listener = fd
        self.port = port
        Thread { [self] in acceptLoop() }.start()
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Binds `fd` to 127.0.0.1 on a free port and returns the port.
    static func bindLoopback(_ fd: Int32) -> UInt16? {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return bound ? UInt16(bigEndian: address.sin_port) : nil
    }

    /// Stops accepting and shuts every open connection down (their threads then exit).
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        lock.withLock { for fd in open { shutdown(fd, Int32(SHUT_RDWR)) } }
    }

    deinit { close(listener) }

    // MARK: - Serving

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            lock.withLock {
                accepted += 1
                open.insert(fd)
            }
            Thread { [self] in
                serve(Connection(fd: fd))
                lock.withLock { _ = open.remove(fd) }
                close(fd)
            }.start()
        }
    }

    private func serve(_ connection: Connection) {
        while let request = connection.readRequest() {
            handler(request, connection)
            if request.header("Connection")?.lowercased() == "close" || connection.closed { return }
        }
    }

    // MARK: - Connection

    /// One accepted socket; used only by its own thread.
    final class Connection: @unchecked Sendable {
        let fd: Int32
        private var buffer: [UInt8] = []
        /// Set by a handler that closed the exchange (e.g. after an abort).
        var closed = false

        init(fd: Int32) { self.fd = fd }

        func write(_ text: String) { write(Array(text.utf8)) }

        func write(_ bytes: [UInt8]) {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 {
                    if n < 0, errno == EINTR { continue }
                    closed = true
                    return
                }
                offset += n
            }
        }

        /// A complete response with `Content-Length`.
        func respond(status: Int, reason: String = "OK", headers: [(String, String)] = [], body: [UInt8] = []) {
            var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Length: \(body.count)\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            write(Array((head + "\r\n").utf8) + body)
        }

        func respond(status: Int, reason: String = "OK", json: String) {
            respond(status: status, reason: reason, headers: [("Content-Type", status >= 400 ? "application/problem+json" : "application/json")], body: Array(json.utf8))
        }

        /// Blocks until the peer closes the connection (true) or `seconds` pass (false).
        func waitForPeerClose(seconds: Int) -> Bool {
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var scratch = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &scratch, scratch.count, 0)
                if n > 0 { continue }
                if n < 0, errno == EINTR { continue }
                closed = true
                return n == 0 || errno == ECONNRESET
            }
        }

        /// The next request, or nil when the peer closed. Answers `Expect: 100-continue` first.
        func readRequest() -> Request? {
            guard let headEnd = fill(until: { $0.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound }) else { return nil }
            let lines = String(decoding: buffer[..<headEnd], as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
            buffer.removeFirst(headEnd)
            let requestLine = lines[0].split(separator: " ")
            let headers = lines.dropFirst().map { line -> (String, String) in
                let colon = line.firstIndex(of: ":")!
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            var request = Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: [])
            if request.header("Expect")?.lowercased() == "100-continue" { write("HTTP/1.1 100 Continue\r\n\r\n") }
            let length = Int(request.header("Content-Length") ?? "0") ?? 0
            guard fill(until: { $0.count >= length ? length : nil }) != nil else { return nil }
            request.body = Array(buffer[..<length])
            buffer.removeFirst(length)
            return request
        }

        private func fill(until complete: ([UInt8]) -> Int?) -> Int? {
            var scratch = [UInt8](repeating: 0, count: 65536)
            while true {
                if let end = complete(buffer) { return end }
                let n = recv(fd, &scratch, scratch.count, 0)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return nil }
                buffer += scratch[..<n]
            }
        }
    }
}
