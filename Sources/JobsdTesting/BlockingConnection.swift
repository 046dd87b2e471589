import Foundation

/// A plain blocking TCP connection to 127.0.0.1 for tests that run many clients at once on
/// threads of their own (churn and reset tests): connect, send, read, close politely or reset.
/// A 10 s receive timeout is the failure guard; nothing here sleeps.
public final class BlockingConnection {
    public let fd: Int32
    private var isOpen = true
    /// Bytes read and not yet consumed by `readResponse`.
    public private(set) var buffer: [UInt8] = []

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// A head and body read by `readResponse`.
    public struct Response {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: errno \(errno)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Foundation.close(fd)
            throw Failure("connect: errno \(code)")
        }
    }

    deinit { close() }

    /// Closes politely (FIN); also done when the object goes away.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        Foundation.close(fd)
    }

    /// Sends every byte (the server may have closed: then it throws).
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure("send: errno \(errno)") }
            offset += sent
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Reads once (up to `limit` bytes) into `buffer`; false at end of stream; throws on error or
    /// after the 10 s receive timeout.
    @discardableResult
    public func fill(limit: Int = 65536) throws -> Bool {
        var scratch = [UInt8](repeating: 0, count: limit)
        var count: Int
        repeat {
            count = scratch.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
        } while count < 0 && errno == EINTR  // a signal for another part of the test process
        if count < 0 { throw Failure("read: errno \(errno)") }
        buffer += scratch[..<count]
        return count > 0
    }

    /// Reads until at least `count` bytes are buffered (or the end of stream).
    public func fill(toAtLeast count: Int) throws {
        while buffer.count < count {
            guard try fill(limit: min(65536, count - buffer.count)) else { return }
        }
    }

    /// Reads one complete response: `Content-Length` or chunked body (`head`: no body follows).
    /// Throws when the bytes are not a well-formed response.
    public func readResponse(head: Bool = false) throws -> Response {
        let headEnd = try readUntil([13, 10, 13, 10])
        let headText = String(decoding: buffer[..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd + 4)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw Failure("bad status line \(statusLine.debugDescription)")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw Failure("bad header line \(line.debugDescription)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = Response(status: status, headers: headers, body: [])
        if head || (100..<200).contains(status) || status == 204 || status == 304 { return response }
        if response.header("Transfer-Encoding") == "chunked" {
            while true {
                let lineEnd = try readUntil([13, 10])
                let sizeText = String(decoding: buffer[..<lineEnd], as: UTF8.self)
                buffer.removeFirst(lineEnd + 2)
                guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else {
                    throw Failure("bad chunk size \(sizeText.debugDescription)")
                }
                if size == 0 {
                    _ = try readUntil([13, 10])
                    buffer.removeFirst(2)
                    return response
                }
                try fill(toAtLeast: size + 2)
                guard buffer.count >= size + 2, buffer[size] == 13, buffer[size + 1] == 10 else { throw Failure("bad chunk framing") }
                response.body += buffer[..<size]
                buffer.removeFirst(size + 2)
            }
        }
        guard let length = response.header("Content-Length").flatMap({ Int($0) }) else {
            throw Failure("response without Content-Length or chunked body")
        }
        try fill(toAtLeast: length)
        guard buffer.count >= length else { throw Failure("connection closed inside a body") }
        response.body = Array(buffer[..<length])
        buffer.removeFirst(length)
        return response
    }

    /// Waits up to `milliseconds` for something to read (or the end of stream) and reads it;
    /// false when nothing came in that time.
    public func waitReadable(milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, milliseconds) == 1 else { return false }
        _ = try? fill()
        return true
    }

    /// Drops `count` bytes from the front of `buffer`.
    public func consume(_ count: Int) { buffer.removeFirst(min(count, buffer.count)) }

    /// Ends the connection with a TCP reset (SO_LINGER {1, 0}): the server's next send fails.
    public func reset() {
        var linger = Foundation.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Foundation.linger>.size))
        close()
    }

    /// Half-closes the sending side.
    public func shutdownWrite() { _ = Foundation.shutdown(fd, Int32(SHUT_WR)) }

    /// Index of `marker` in `buffer`, reading more until it appears.
    private func readUntil(_ marker: [UInt8]) throws -> Int {
        var searchFrom = 0
        while true {
            if buffer.count >= marker.count {
                var index = searchFrom
                while index + marker.count <= buffer.count {
                    if buffer[index] == marker[0] && buffer[index..<index + marker.count].elementsEqual(marker) { return index }
                    index += 1
                }
                searchFrom = max(0, buffer.count - marker.count + 1)
            }
            guard try fill() else { throw Failure("connection closed before \(marker == [13, 10] ? "a line end" : "the end of a head")") }
        }
    }
}
