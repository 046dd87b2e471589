import Dispatch
import Glibc
@testable import JobsdHTTP

/// A raw TCP client for server tests. Every blocking call runs on a Dispatch thread, never on the
/// cooperative pool (the server's handler Tasks need it); a 10 s receive timeout is the failure guard.
final class RawClient: @unchecked Sendable {
    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    // `buffer` is only touched by one blocking call at a time (callers await each call).
    private let fd: Int32
    private var buffer: [UInt8] = []

    private init(fd: Int32) { self.fd = fd }

    deinit { Glibc.close(fd) }

    /// Connects to 127.0.0.1, or to ::1 with `ipv6`.
    static func connect(port: Int, ipv6: Bool = false) async throws -> RawClient {
        try await blocking {
            let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var v4 = sockaddr_in()
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = UInt16(port).bigEndian
            v4.sin_addr.s_addr = inet_addr("127.0.0.1")
            var v6 = sockaddr_in6()
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = UInt16(port).bigEndian
            inet_pton(AF_INET6, "::1", &v6.sin6_addr)
            let result = ipv6
                ? withUnsafePointer(to: &v6) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
                }
                : withUnsafePointer(to: &v4) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            guard result == 0 else {
                let code = errno
                Glibc.close(fd)
                throw SyscallError(call: "connect", errno: code)
            }
            return RawClient(fd: fd)
        }
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws {
        try await Self.blocking { [self] in
            var offset = 0
            while offset < bytes.count {
                let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard sent > 0 else { throw SyscallError(call: "send", errno: errno) }
                offset += sent
            }
        }
    }

    /// Reads one response; `head` for the answer to a HEAD request (no body follows).
    func readResponse(head: Bool = false) async throws -> Response {
        try await Self.blocking { [self] in
            var response = try readHeadSync()
            if head || (100..<200).contains(response.status) || response.status == 204 { return response }
            if response.headers["Transfer-Encoding"] == "chunked" {
                while let chunk = try readChunkSync() { response.body += chunk }
            } else if let length = response.headers["Content-Length"].flatMap({ Int($0) }) {
                response.body = try readExactlySync(length)
            } else {
                response.body = try readToEndSync()
            }
            return response
        }
    }

    /// Reads a response head only (for streamed bodies read with `readChunk`).
    func readHead() async throws -> Response { try await Self.blocking { [self] in try readHeadSync() } }

    /// The next chunk of a chunked body, nil at the last chunk.
    func readChunk() async throws -> [UInt8]? { try await Self.blocking { [self] in try readChunkSync() } }

    /// Everything until the server closes the connection.
    func readToEnd() async throws -> [UInt8] { try await Self.blocking { [self] in try readToEndSync() } }

    /// True when the server closed (EOF or reset) with nothing more to read.
    func isClosedByServer() async throws -> Bool {
        try await Self.blocking { [self] in
            var byte: UInt8 = 0
            let count = Glibc.read(fd, &byte, 1)
            if count == 0 || (count < 0 && errno == ECONNRESET) { return true }
            if count < 0 { throw SyscallError(call: "read", errno: errno) }
            return false
        }
    }

    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    // MARK: - Blocking helpers

    /// Runs `body` on a queue of its own: such queues get a thread when others block, unlike the
    /// width-limited global queue, so parallel tests do not starve each other (or the server).
    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "raw-client").async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Reads more into `buffer`; false at end of stream.
    private func fill() throws -> Bool {
        var scratch = [UInt8](repeating: 0, count: 65536)
        let count = scratch.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count < 0 { throw SyscallError(call: "read", errno: errno) }
        buffer += scratch[..<count]
        return count > 0
    }

    private func readLineSync() throws -> String {
        while true {
            if let lf = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[..<lf].last == UInt8(ascii: "\r") ? buffer[..<(lf - 1)] : buffer[..<lf]
                defer { buffer.removeFirst(lf + 1) }
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill() else { throw Failure(description: "connection closed before a complete line") }
        }
    }

    private func readHeadSync() throws -> Response {
        let statusLine = try readLineSync()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw Failure(description: "bad status line \(statusLine.debugDescription)")
        }
        var headers = HTTPHeaders()
        while true {
            let line = try readLineSync()
            if line.isEmpty { break }
            let colon = line.firstIndex(of: ":")!
            headers.add(String(line[..<colon]), line[line.index(after: colon)...].trimmingPrefix(" ").description)
        }
        return Response(status: status, headers: headers, body: [])
    }

    private func readExactlySync(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw Failure(description: "connection closed inside a body") }
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    private func readChunkSync() throws -> [UInt8]? {
        let size = try readLineSync()
        guard let length = Int(size.split(separator: ";").first ?? "", radix: 16) else {
            throw Failure(description: "bad chunk size \(size.debugDescription)")
        }
        if length == 0 {
            while try !readLineSync().isEmpty {}
            return nil
        }
        let chunk = try readExactlySync(length)
        _ = try readLineSync()
        return chunk
    }

    private func readToEndSync() throws -> [UInt8] {
        while try fill() {}
        defer { buffer.removeAll() }
        return buffer
    }
}
