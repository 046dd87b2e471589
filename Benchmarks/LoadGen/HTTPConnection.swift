import Glibc

/// Why a request could not be completed; `call` names the syscall or the parsing step.
struct LoadError: Error, CustomStringConvertible {
    var call: String
    var detail: String
    init(_ call: String, _ detail: String) { self.call = call; self.detail = detail }
    init(errno call: String) { self.call = call; self.detail = String(cString: strerror(errno)) }
    var description: String { "\(call): \(detail)" }
}

/// One HTTP/1.1 response as read from the wire (headers reduced to what the benchmarks need).
struct HTTPResponse {
    var status: Int
    var body: [UInt8]
    /// The server said `Connection: close`; the connection must not be reused.
    var closes: Bool
}

/// One keep-alive HTTP/1.1 connection over a blocking TCP socket to 127.0.0.1, with
/// TCP_NODELAY and a receive timeout so a stuck server fails the request instead of hanging
/// the benchmark. Not thread-safe: each load thread owns its connections. Closed on deinit.
final class HTTPConnection {
    let fd: Int32
    /// Received bytes not yet consumed; `start` is the first unread byte.
    private var buffer: [UInt8] = []
    private var start = 0
    private let host: String

    init(host: String, port: UInt16, receiveTimeout seconds: Int = 75) throws(LoadError) {
        self.host = host
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LoadError(errno: "socket") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw LoadError("inet_pton", "not an IPv4 address: \(host)")
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let error = LoadError(errno: "connect")
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Sends one request and reads its response. `body` is sent as JSON with a Content-Length.
    func request(_ method: String, _ target: String, body: String? = nil) throws(LoadError) -> HTTPResponse {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)" } else { head += "\r\n" }
        try send(Array(head.utf8))
        return try readResponse(head: method == "HEAD")
    }

    // MARK: - Socket and receive buffer

    func send(_ bytes: [UInt8]) throws(LoadError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LoadError(errno: "send")
            }
            sent += n
        }
    }

    /// Bytes received and not yet consumed.
    var available: Int { buffer.count - start }

    func bytes(upTo count: Int) -> [UInt8] { Array(buffer[start..<start + count]) }

    func consume(_ count: Int) {
        start += count
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
    }

    /// Receives once (blocking); returns the byte count, 0 at end of stream.
    @discardableResult
    func receive() throws(LoadError) -> Int {
        if start > 65_536 {
            buffer.removeFirst(start)
            start = 0
        }
        let n = withUnsafeTemporaryAllocation(byteCount: 16_384, alignment: 1) { scratch in
            var n: Int
            repeat { n = recv(fd, scratch.baseAddress!, scratch.count, 0) } while n < 0 && errno == EINTR
            if n > 0 { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<n])) }
            return n
        }
        if n < 0 { throw LoadError(errno: "recv") }
        return n
    }

    /// Receives until at least `count` unread bytes are buffered.
    func fill(atLeast count: Int) throws(LoadError) {
        while available < count {
            if try receive() == 0 { throw LoadError("recv", "connection closed mid-response") }
        }
    }

    /// Receives until `pattern` occurs in the unread bytes; returns its offset from the first unread byte.
    func readUntil(_ pattern: [UInt8]) throws(LoadError) -> Int {
        var from = 0
        while true {
            if available >= pattern.count {
                let last = available - pattern.count
                var i = from
                while i <= last {
                    if buffer[start + i] == pattern[0], buffer[start + i..<start + i + pattern.count].elementsEqual(pattern) { return i }
                    i += 1
                }
                from = last + 1
            }
            if try receive() == 0 { throw LoadError("recv", available == 0 ? "connection closed" : "connection closed mid-response") }
        }
    }
}
