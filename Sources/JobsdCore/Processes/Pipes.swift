import Glibc
import CProcessSupport

/// File descriptors handed to job processes; all created close-on-exec (the spawn dup2s the
/// ones a child needs), so no other child inherits them.
enum Pipes {
    static func pipe() throws(SpawnError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard jobsd_pipe_cloexec(&fds) == 0 else { throw .setup("pipe2: \(String(cString: strerror(errno)))") }
        return (fds[0], fds[1])
    }

    /// /dev/null opened once for reading; `stdin` hands out duplicates (no path lookup per job).
    private static let nullInput = open("/dev/null", O_RDONLY | O_CLOEXEC)

    /// A readable fd holding `text` (an in-memory file, so no blocking pipe write), or /dev/null.
    /// The caller closes it.
    static func stdin(_ text: String?) throws(SpawnError) -> Int32 {
        guard let text, !text.isEmpty else {
            if nullInput >= 0 {
                let fd = fcntl(nullInput, F_DUPFD_CLOEXEC, 0)
                if fd >= 0 { return fd }
            }
            return try devNull(O_RDONLY)
        }
        let fd = jobsd_memfd("jobsd-stdin")
        guard fd >= 0 else { throw .setup("memfd_create: \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                close(fd)
                throw .setup("writing stdin: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        lseek(fd, 0, SEEK_SET)
        return fd
    }

    static func devNull(_ flags: Int32) throws(SpawnError) -> Int32 {
        let fd = open("/dev/null", flags | O_CLOEXEC)
        guard fd >= 0 else { throw .setup("open /dev/null: \(String(cString: strerror(errno)))") }
        return fd
    }
}
