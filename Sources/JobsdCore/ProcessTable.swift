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
        guard let bytes = readFile("/proc/\(pid)/stat", limit: 1024) else { return nil }
        // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        // fields[0] is field 3 (state); field n is fields[n - 3].
        guard fields.count > 19, let ppid = Int32(ascii: fields[1]), let pgid = Int32(ascii: fields[2]),
              let start = UInt64(ascii: fields[19])
        else { return nil }
        return ProcStat(pid: pid, ppid: ppid, pgid: pgid, state: fields[0].first ?? 0, startTicks: start)
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
        guard let environ = readFile("/proc/\(pid)/environ", limit: 1 << 20) else { return false }
        let marker = Array("JOBSD_JOB_ID=\(jobID)".utf8)
        return environ.split(separator: 0, omittingEmptySubsequences: true).contains { $0.elementsEqual(marker) }
    }

    /// The live processes of a job: members of `processGroup` (when given), carriers of the job's
    /// marker, and all their descendants.
    static func members(jobID: String, processGroup: pid_t?) -> [ProcStat] {
        let procs = all()
        var found = Set<pid_t>()
        for p in procs where p.pgid == processGroup || hasMarker(p.pid, jobID: jobID) {
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

    /// Reads up to `limit` bytes of a (proc) file; nil when it cannot be opened.
    static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = read(fd, &chunk, chunk.count)
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return out
    }
}

extension FixedWidthInteger {
    /// Parses decimal ASCII digits (with an optional leading '-').
    init?(ascii bytes: ArraySlice<UInt8>) {
        var value: Self = 0
        var negative = false
        var sawDigit = false
        for (i, b) in bytes.enumerated() {
            if i == 0, b == UInt8(ascii: "-") { negative = true; continue }
            guard b >= 48, b <= 57 else { return nil }
            value = value &* 10 &+ Self(b - 48)
            sawDigit = true
        }
        guard sawDigit else { return nil }
        self = negative ? 0 &- value : value
    }
}
