import Foundation
import Glibc
import Logging

/// Removes the cgroup roots (`jobsd-<hash>`, see `CgroupTree`) that other jobsd engines left
/// beside this one's and that nothing can use any more: test runs and crashed servers leave one
/// per data directory, which adds up to thousands on a build machine.
///
/// Who owns a root: every engine marks its root with an empty child cgroup
/// `owner.<pid>.<start ticks>.<pid namespace inode>` (created when its tree is prepared,
/// removed at its stop). A root is *stale* when it holds no process (`populated 0` in its
/// `cgroup.events`) and either its owner marks name no process that still runs with that start
/// time, or it has no owner mark and was created more than `unmarkedAge` ago (a root left by a
/// jobsd from before the marks). A mark made in another pid namespace (a jobsd in a container
/// that shares the host's cgroup tree, or run as PID 1 by `unshare --pid`) cannot be checked
/// from here, so it counts as alive.
/// A stale root's empty job cgroups and the root itself are removed, with its v1 roots of the
/// same name (memory, cpu, pids on the hybrid layout). A root with a live process in it is
/// never touched, whoever owns it: its jobsd kills and reclaims those at its next start
/// (recovery by job id), and removing empty cgroups cannot take anything from a live engine.
/// Removal races with an engine starting on the same data directory are harmless: its new
/// owner mark makes the root's `rmdir` fail.
///
/// Cost: one directory listing of the parent and of each sibling root, run once per engine start
/// off the start path (a utility-QoS Dispatch queue), so a start never waits for it.
enum StaleCgroupRoots {
    /// How old an unmarked root must be before it counts as left behind.
    static let unmarkedAge: Double = 3600

    /// The owner mark of this process in a root.
    static var ownMark: String {
        let pid = getpid()
        return "owner.\(pid).\(ProcessTable.info(pid)?.startTicks ?? 0).\(pidNamespace)"
    }

    /// The inode of this process's pid namespace (`/proc/self/ns/pid` → `pid:[4026531836]`); 0
    /// when it cannot be read.
    static let pidNamespace: UInt64 = {
        var st = stat()
        return stat("/proc/self/ns/pid", &st) == 0 ? UInt64(st.st_ino) : 0
    }()

    /// Reclaims, in the background, the stale siblings of `tree.root` (never `tree.root`
    /// itself) and the v1 roots of the same names under `v1Bases` (the v1 hierarchies' bases:
    /// mount point plus jobsd's own cgroup there). Logs how many it removed once done (info when
    /// any, else debug).
    static func reclaimInBackground(beside tree: CgroupTree, v1Bases: [String], logger: Logger) {
        DispatchQueue.global(qos: .utility).async {
            let removed = reclaim(beside: tree, v1Bases: v1Bases, now: Date().timeIntervalSince1970)
            logger.log(level: removed > 0 ? .info : .debug, "stale cgroup roots of other jobsd runs checked", metadata: ["removed": "\(removed)"])
        }
    }

    /// The synchronous work of `reclaimInBackground`; returns how many roots it removed.
    static func reclaim(beside tree: CgroupTree, v1Bases: [String], now: Double) -> Int {
        let parent = (tree.root as NSString).deletingLastPathComponent
        let own = (tree.root as NSString).lastPathComponent
        var removed = 0
        var seen = Set<String>()
        for name in rootNames(in: parent) where name != own {
            seen.insert(name)
            let root = parent + "/" + name
            guard isStale(root, now: now) else { continue }
            if removeEmpty(root) {
                removed += 1
                for base in v1Bases { _ = removeEmpty(base + "/" + name) }
            }
        }
        // v1 roots whose v2 root is gone: only old ones, and only when empty (rmdir refuses others).
        for base in v1Bases {
            for name in rootNames(in: base) where name != own && !seen.contains(name) && age(base + "/" + name, now: now) > unmarkedAge {
                _ = removeEmpty(base + "/" + name)
            }
        }
        return removed
    }

    private static func isStale(_ root: String, now: Double) -> Bool {
        guard !JobCgroup(path: root, fd: -1).isPopulated, FileManager.default.fileExists(atPath: root + "/cgroup.events") else { return false }
        let marks = children(of: root).filter { $0.hasPrefix("owner.") }
        guard !marks.isEmpty else { return age(root, now: now) > unmarkedAge }
        return !marks.contains(where: ownerIsAlive)
    }

    /// Whether `owner.<pid>.<ticks>.<pid namespace>` names a process that still runs with that
    /// start time; true when the mark is from another pid namespace (it cannot be checked here).
    static func ownerIsAlive(_ mark: String) -> Bool {
        let parts = mark.split(separator: ".")
        guard parts.count == 4, let pid = pid_t(parts[1]), let ticks = UInt64(parts[2]), let namespace = UInt64(parts[3]) else { return false }
        guard namespace == pidNamespace, pidNamespace != 0 else { return true }
        guard let info = ProcessTable.info(pid) else { return false }
        return info.startTicks == ticks
    }

    /// Removes the empty cgroups directly below `root`, then `root`; true when `root` is gone.
    private static func removeEmpty(_ root: String) -> Bool {
        for child in children(of: root) { rmdir(root + "/" + child) }
        return rmdir(root) == 0 || errno == ENOENT
    }

    private static func rootNames(in parent: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).filter { $0.hasPrefix("jobsd-") }
    }

    /// The directories below `path` (cgroups; the interface files are regular files).
    private static func children(of path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { name in
            var st = stat()
            return stat(path + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        }
    }

    /// Seconds since `path` was created (a cgroup directory's mtime does not change with its
    /// children); 0 when it cannot be read.
    private static func age(_ path: String, now: Double) -> Double {
        var st = stat()
        guard stat(path, &st) == 0 else { return 0 }
        return now - Double(st.st_mtim.tv_sec)
    }
}
