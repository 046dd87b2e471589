import CProcessSupport
import Foundation
import Glibc

/// The cgroup v2 directory under which one engine puts its jobs' cgroups:
/// `<v2 mount><jobsd's own cgroup>/jobsd-<16 hex digits>`, the digits a hash (FNV-1a, 64 bit) of
/// the absolute data directory. So several jobsd on one machine (and the test suite's many
/// engines in one process) never share a cgroup or kill each other's jobs, and a jobsd restarted
/// on the same data directory after a crash finds its jobs' leftovers again by job id:
/// `<root>/<job id>` for a job, `<root>/<job id>.cleanup` for its cleanup command.
///
/// The v2 mount comes from `/proc/self/mountinfo` (`/sys/fs/cgroup` on a pure-v2 host or in a
/// container with its own cgroup namespace, `/sys/fs/cgroup/unified` in the hybrid layout),
/// jobsd's own cgroup from the `0::` line of `/proc/self/cgroup`. No controllers are enabled:
/// containment needs none, and so jobsd may stay in the cgroup it was started in.
struct CgroupTree: Sendable {
    let root: String

    /// Finds the v2 hierarchy and makes sure `root` exists and accepts processes (a probe child
    /// is spawned into a scratch cgroup and removed). Throws why not, in one sentence.
    static func prepare(dataDirectory: String) throws(ContainmentError) -> CgroupTree {
        guard let mount = unifiedMount() else { throw .unavailable("no cgroup2 file system is mounted") }
        guard let own = ownCgroup() else { throw .unavailable("/proc/self/cgroup has no cgroup v2 (0::) line") }
        let base = mount + (own == "/" ? "" : own)
        let tree = CgroupTree(root: base + "/jobsd-" + fnv1a(absolute(dataDirectory)))
        if mkdir(tree.root, 0o755) != 0, errno != EEXIST {
            throw .unavailable("cannot create \(tree.root): \(String(cString: strerror(errno)))")
        }
        let probeName = "probe-\(getpid())"
        let probe: JobCgroup
        do { probe = try tree.create(probeName) } catch { throw .unavailable("\(error)") }
        defer { probe.remove() }
        guard access(probe.path + "/cgroup.kill", W_OK) == 0 else {
            throw .unavailable("\(probe.path)/cgroup.kill is missing or not writable (kernel 5.14 or later is needed)")
        }
        let rc = jobsd_cgroup_probe(probe.fd)
        guard rc == 0 else { throw .unavailable("cannot start a process in \(probe.path): clone3: \(String(cString: strerror(rc)))") }
        tree.markOwner()
        return tree
    }

    /// Marks the root as this process's (`StaleCgroupRoots`): an empty child cgroup named after
    /// its pid and start time. Re-creates the root if another jobsd's reclaim removed it between
    /// our `mkdir` and now.
    func markOwner() {
        let mark = root + "/" + StaleCgroupRoots.ownMark
        for _ in 0..<3 {
            if mkdir(mark, 0o755) == 0 || errno == EEXIST || errno != ENOENT { return }
            _ = mkdir(root, 0o755)
        }
    }

    /// Creates `<root>/<name>` (or takes the existing one) and opens it. Should the root be
    /// gone (removed by hand, or by another jobsd that could not tell its owner is alive), it is
    /// made again, with this process's owner mark.
    func create(_ name: String) throws(ContainmentError) -> JobCgroup {
        let path = root + "/" + name
        var failed = mkdir(path, 0o755) != 0 && errno != EEXIST
        if failed, errno == ENOENT {
            _ = mkdir(root, 0o755)
            markOwner()
            failed = mkdir(path, 0o755) != 0 && errno != EEXIST
        }
        if failed {
            throw .unavailable("cannot create the cgroup \(path): \(String(cString: strerror(errno)))")
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .unavailable("cannot open the cgroup \(path): \(String(cString: strerror(errno)))") }
        return JobCgroup(path: path, fd: fd)
    }

    /// `<root>/<name>` when it exists (recovery).
    func existing(_ name: String) -> JobCgroup? {
        let path = root + "/" + name
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        return fd >= 0 ? JobCgroup(path: path, fd: fd) : nil
    }

    /// Names of the cgroups under `root` (leftovers of a previous run, at start), owner marks
    /// (`StaleCgroupRoots`) included.
    func children() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { name in
            var st = stat()
            return stat(root + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        }
    }

    /// Removes this process's owner mark, then `root` when no job cgroup is left in it (at the
    /// engine's stop).
    func removeIfEmpty() {
        _ = rmdir(root + "/" + StaleCgroupRoots.ownMark)
        _ = rmdir(root)
    }

    /// The tree of the engine on `dataDirectory`, without creating or probing anything (nil when
    /// no cgroup2 file system is mounted).
    static func located(dataDirectory: String) -> CgroupTree? {
        guard let mount = unifiedMount(), let own = ownCgroup() else { return nil }
        return CgroupTree(root: mount + (own == "/" ? "" : own) + "/jobsd-" + fnv1a(absolute(dataDirectory)))
    }

    /// Kills whatever is left in the cgroups under `root` and removes them and `root` (a data
    /// directory being deleted whose jobsd was killed with SIGKILL and will not start again).
    func discard() {
        for name in children() {
            guard let cgroup = existing(name) else { continue }
            cgroup.kill()
            for _ in 0..<1000 where cgroup.isPopulated { usleep(1000) }
            cgroup.release()
        }
        removeIfEmpty()
    }

    // MARK: - Locating the v2 hierarchy

    /// The mount point of the cgroup2 file system (field 9 of mountinfo is the type).
    static func unifiedMount() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            guard let dash = line.range(of: " - ") else { continue }
            let after = line[dash.upperBound...].split(separator: " ")
            let before = line[..<dash.lowerBound].split(separator: " ")
            if after.first == "cgroup2", before.count > 4 { return unescape(String(before[4])) }
        }
        return nil
    }

    /// jobsd's own cgroup in the v2 hierarchy: the path of the `0::` line.
    static func ownCgroup() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            let path = String(line.dropFirst(3))
            // A cgroup outside our namespace's view shows as "/.." paths: not usable.
            return path.hasPrefix("/") && !path.contains("/..") ? path : nil
        }
        return nil
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    private static func unescape(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var out: [UInt8] = []
        let bytes = Array(field.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count, let v = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The data directory as the cgroup names hash it: resolved (symlinks too) when it exists.
    static func absolute(_ dataDirectory: String) -> String {
        realpath(dataDirectory, nil).map { resolved in
            defer { free(resolved) }
            return String(cString: resolved)
        } ?? URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
    }

    static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Writes `text` to a (cgroup) file; false on failure.
    static func writeFile(_ path: String, _ text: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
    }
}
