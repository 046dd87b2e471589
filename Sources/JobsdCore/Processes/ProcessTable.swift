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

/// Process discovery through `/proc` (this machine's containment method: cgroup v2 is not
/// writable here). A job's processes are its process group, every process whose environment
/// carries `JOBSD_JOB_ID=<id>` (catches `setsid` and double-fork escapees), and the descendants
/// of those (by PPid). Zombies count as gone: the reaper collects them.
enum ProcessTable {
    static let containmentMethod = "/proc tracking (process group + JOBSD_JOB_ID environ marker + descendants)"

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

    /// Every live (non-zombie) process but this one.
    static func all() -> [ProcStat] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        let me = getpid()
        var out: [ProcStat] = []
        while let entry = readdir(dir) {
            let pid: pid_t? = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                var value: Int32 = 0
                for byte in raw {
                    if byte == 0 { break }
                    guard byte >= 48, byte <= 57 else { return nil }
                    value = value * 10 + Int32(byte - 48)
                }
                return value > 0 ? value : nil
            }
            guard let pid, pid != me, let info = info(pid), !info.isDead else { continue }
            out.append(info)
        }
        return out
    }

    /// True when the process's environment holds exactly `JOBSD_JOB_ID=<jobID>`.
    static func hasMarker(_ pid: pid_t, jobID: String) -> Bool {
        let marker = Array("JOBSD_JOB_ID=\(jobID)".utf8)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1 << 16) { buffer in
            let n = readFile("/proc/\(pid)/environ", into: UnsafeMutableRawBufferPointer(buffer))
            var start = 0
            while start < n {
                var end = start
                while end < n, buffer[end] != 0 { end += 1 }
                if end - start == marker.count, memcmp(buffer.baseAddress! + start, marker, marker.count) == 0 { return true }
                start = end + 1
            }
            return false
        }
    }

    /// The live processes of a job: members of `processGroup` (when given), carriers of the job's
    /// marker, and all their descendants. Only processes started at or after `startedAfter` (clock
    /// ticks; the main process's start) can carry the marker, so older ones' environments — slow
    /// to read from busy processes — are skipped.
    static func members(jobID: String, processGroup: pid_t?, startedAfter: UInt64? = nil) -> [ProcStat] {
        let procs = all()
        var found = Set<pid_t>()
        for p in procs
        where p.pgid == processGroup || (p.startTicks >= (startedAfter ?? 0) && hasMarker(p.pid, jobID: jobID)) {
            found.insert(p.pid)
        }
        var grew = !found.isEmpty
        while grew {
            grew = false
            for p in procs where !found.contains(p.pid) && found.contains(p.ppid) {
                found.insert(p.pid)
                grew = true
            }
        }
        return procs.filter { found.contains($0.pid) }
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
