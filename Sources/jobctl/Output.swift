import Foundation
import JobsdAPI

/// Writing to stdout and stderr, unbuffered. SIGPIPE keeps its default (`jobctl logs | head`
/// ends jobctl quietly).
enum Output {
    /// Writes `bytes` to stdout as they are (job output is not text).
    static func raw(_ bytes: [UInt8]) { write(bytes, to: STDOUT_FILENO) }

    static func line(_ text: String) { write(Array((text + "\n").utf8), to: STDOUT_FILENO) }

    static func error(_ text: String) { write(Array((text + "\n").utf8), to: STDERR_FILENO) }

    /// A job or a group as its wire JSON, one line.
    static func json(_ value: some JSONWritable) { line(value.json) }

    private static func write(_ bytes: [UInt8], to fd: Int32) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }
}
