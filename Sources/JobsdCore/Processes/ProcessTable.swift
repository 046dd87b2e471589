import Glibc

/// One line of `/proc/<pid>/stat`.
struct ProcStat: Sendable, Equatable {
    var pid: pid_t
    var ppid: pid_t
    var pgid: pid_t
    /// Field 3: `R`, `S`, `D`, `Z`, …
    var state: UInt8
    /// Field 22: start time in clock ticks since boot; with the pid, identifies a process.
    var startTicks: UInt64

    var isDead: Bool { state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") }
}

/// Reading `/proc`: one process's stat line (start time, state, group) and small proc files.
/// Not how a job's processes are found: that is the job's `ContainedTree` (a cgroup, or a
/// subreaper), chosen by `Containment`; see `JobEngine.containmentMethod`.
enum ProcessTable {
    static func info(_ pid: pid_t) -> ProcStat? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer in
            let n = readFile("/proc/\(pid)/stat", into: UnsafeMutableRawBufferPointer(buffer))
            guard n > 0 else { return nil }
            // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
            var i = n - 1
            while i > 0, buffer[i] != UInt8(ascii: ")") { i -= 1 }
            guard i > 0 else { return nil }
            // Field 3 starts at i + 2; collect fields 3...22.
            var field = 3
            var value: UInt64 = 0
            var state: UInt8 = 0, ppid: pid_t = 0, pgid: pid_t = 0
            i += 2
            while i < n, field <= 22 {
                let b = buffer[i]
                if b == UInt8(ascii: " ") || b == UInt8(ascii: "\n") {
                    switch field {
                    case 4: ppid = pid_t(truncatingIfNeeded: value)
                    case 5: pgid = pid_t(truncatingIfNeeded: value)
                    case 22: return ProcStat(pid: pid, ppid: ppid, pgid: pgid, state: state, startTicks: value)
                    default: break
                    }
                    field += 1
                    value = 0
                } else if field == 3 {
                    state = b
                } else if b >= 48, b <= 57 {
                    value = value &* 10 &+ UInt64(b - 48)
                }
                i += 1
            }
            return nil
        }
    }

    /// Reads a (proc) file into `buffer` (as much as fits); the byte count, 0 when unreadable.
    static func readFile(_ path: String, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var done = 0
        while done < buffer.count {
            let n = read(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            done += n
        }
        return done
    }
}
