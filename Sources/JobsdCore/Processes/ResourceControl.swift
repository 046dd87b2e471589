import Foundation
import Glibc
import JobsdAPI

/// How one kind of job limit is enforced on this machine (`GET /v1/capabilities`).
public enum LimitMechanism: String, Sendable {
    /// A controller of the job's own cgroup v2 (memory.max, cpu.max, pids.max).
    case cgroupV2 = "cgroup_v2"
    /// A per-job cgroup of a cgroup v1 controller (the hybrid layout), entered by the job's
    /// process before it execs.
    case cgroupV1 = "cgroup_v1"
    /// An rlimit of every process of the job (RLIMIT_NOFILE, RLIMIT_CPU), set before it execs.
    case rlimit
}

/// The resource limits an engine can enforce, found once at its start, and how each job's are
/// applied (`apply`). `memory_bytes`, `cpu` and `pids` are limits of the whole job, so they need a
/// cgroup: the job's own v2 cgroup when the v2 controllers can be enabled below the engine's root
/// (a pure-v2 host where jobsd owns its subtree, or a container with its own cgroup namespace);
/// else per-job cgroups in writable cgroup v1 controllers (`<mount><own>/jobsd-<hash>/<job>`, the
/// hybrid layout); else they cannot be enforced and the server refuses them (`unavailable`).
/// `open_files` and `cpu_seconds` are rlimits, always available (and per process).
///
/// v1 cgroups are only used with cgroup containment (the job's process enters them in the
/// vfork child; a per-job subreaper would have to enter them itself and be charged for its
/// copy of jobsd).
struct ResourceControl: Sendable {
    /// The mechanism of each limit kind that can be enforced.
    let mechanisms: [JobLimits.Kind: LimitMechanism]
    /// Why each other kind cannot be, in one sentence.
    let unavailable: [JobLimits.Kind: String]
    /// v1 controller → this engine's root in it (controllers in use only).
    let v1Roots: [String: String]

    /// The v1 controller (mount option name) of each cgroup-enforced kind.
    static let v1Controller: [JobLimits.Kind: String] = [.memoryBytes: "memory", .cpu: "cpu", .pids: "pids"]
    /// The v2 controller of each cgroup-enforced kind.
    static let v2Controller: [JobLimits.Kind: String] = [.memoryBytes: "memory", .cpu: "cpu", .pids: "pids"]

    static func prepare(containment: Containment, dataDirectory: String) -> ResourceControl {
        var mechanisms: [JobLimits.Kind: LimitMechanism] = [.openFiles: .rlimit, .cpuSeconds: .rlimit]
        var unavailable: [JobLimits.Kind: String] = [:]
        var v1Roots: [String: String] = [:]
        guard let tree = containment.cgroups else {
            for kind in [JobLimits.Kind.memoryBytes, .cpu, .pids] {
                unavailable[kind] = "it needs a cgroup per job, and jobs are contained by a per-job subreaper here (\(containment.detail))"
            }
            return ResourceControl(mechanisms: mechanisms, unavailable: unavailable, v1Roots: [:])
        }
        let v2 = enableV2Controllers(tree)
        let name = "jobsd-" + CgroupTree.fnv1a(CgroupTree.absolute(dataDirectory))
        let v1Mounts = v1Hierarchies()
        for (kind, controller) in v2Controller {
            if v2.contains(controller) {
                mechanisms[kind] = .cgroupV2
                continue
            }
            let v1 = Self.v1Controller[kind]!
            if let base = v1Mounts[v1] {
                let root = base + "/" + name
                if v1Roots[v1] != nil || Self.probeV1(root: root) {
                    v1Roots[v1] = root
                    mechanisms[kind] = .cgroupV1
                    continue
                }
                unavailable[kind] = "the cgroup v1 \(v1) controller at \(base) is not writable"
            } else {
                unavailable[kind] = "no cgroup v2 \(controller) controller can be enabled below \(tree.root) and no cgroup v1 \(v1) controller is mounted"
            }
        }
        return ResourceControl(mechanisms: mechanisms, unavailable: unavailable, v1Roots: v1Roots)
    }

    /// Enables the memory, cpu and pids controllers for the children of `tree.root` where the
    /// kernel lets us (its parent must delegate them and hold no process, e.g. the root of a
    /// cgroup namespace); returns those enabled.
    private static func enableV2Controllers(_ tree: CgroupTree) -> Set<String> {
        let parent = (tree.root as NSString).deletingLastPathComponent
        for controller in ["memory", "cpu", "pids"] {
            _ = CgroupTree.writeFile(parent + "/cgroup.subtree_control", "+" + controller)
            _ = CgroupTree.writeFile(tree.root + "/cgroup.subtree_control", "+" + controller)
        }
        let enabled = (try? String(contentsOfFile: tree.root + "/cgroup.subtree_control", encoding: .utf8)) ?? ""
        return Set(enabled.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    /// v1 controller → `<mount><jobsd's own cgroup in it>`, for memory, cpu and pids.
    static func v1Hierarchies() -> [String: String] {
        guard let mountinfo = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8),
              let own = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)
        else { return [:] }
        var ownPath: [String: String] = [:]  // controller → path, from "N:ctrl1,ctrl2:/path"
        for line in own.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[1].isEmpty else { continue }
            for controller in parts[1].split(separator: ",") { ownPath[String(controller)] = String(parts[2]) }
        }
        var result: [String: String] = [:]
        for line in mountinfo.split(separator: "\n") {
            guard let dash = line.range(of: " - ") else { continue }
            let after = line[dash.upperBound...].split(separator: " ")
            let before = line[..<dash.lowerBound].split(separator: " ")
            guard after.first == "cgroup", after.count >= 3, before.count > 4 else { continue }
            let options = Set(after[2].split(separator: ",").map(String.init))
            for controller in ["memory", "cpu", "pids"] where options.contains(controller) {
                guard let path = ownPath[controller], path.hasPrefix("/"), !path.contains("/..") else { continue }
                result[controller] = String(before[4]) + (path == "/" ? "" : path)
            }
        }
        return result
    }

    /// Creates `root` and a scratch cgroup in it; true when both work.
    private static func probeV1(root: String) -> Bool {
        guard mkdir(root, 0o755) == 0 || errno == EEXIST else { return false }
        let probe = root + "/probe-\(getpid())"
        guard mkdir(probe, 0o755) == 0 || errno == EEXIST else { return false }
        defer { rmdir(probe) }
        return access(probe + "/cgroup.procs", W_OK) == 0
    }

    // MARK: - One job

    /// Writes `limits` into the job's v2 cgroup `cgroup` (v2 kinds) and new v1 cgroups
    /// `<root>/<name>` (v1 kinds), and returns them with the rlimits to set. Throws (and leaves
    /// no v1 cgroup behind) when a limit cannot be enforced or written.
    func apply(_ limits: JobLimits, name: String, cgroup: JobCgroup?) throws(SpawnError) -> AppliedLimits {
        let applied = AppliedLimits()
        do throws(SpawnError) {
            for kind in limits.kinds {
                guard let mechanism = mechanisms[kind] else { throw .setup("\(kind.rawValue) cannot be enforced here: " + (unavailable[kind] ?? "no mechanism")) }
                let value = limits[kind]!
                switch mechanism {
                case .rlimit:
                    let n = UInt64(value)
                    // RLIMIT_CPU: SIGXCPU at the limit, SIGKILL one second later if it is ignored.
                    applied.rlimits.append(kind == .openFiles ? (Int32(RLIMIT_NOFILE.rawValue), n, n) : (Int32(RLIMIT_CPU.rawValue), n, n + 1))
                case .cgroupV2:
                    guard let cgroup else { throw .setup("\(kind.rawValue): the job has no cgroup") }
                    for (file, text) in Self.v2Files(kind, value) where !CgroupTree.writeFile(cgroup.path + "/" + file, text) {
                        throw .setup("cannot set \(kind.rawValue): writing \(text) to \(cgroup.path)/\(file): \(String(cString: strerror(errno)))")
                    }
                    if kind == .memoryBytes {
                        _ = CgroupTree.writeFile(cgroup.path + "/memory.swap.max", "0")
                        applied.oomCounter = cgroup.path + "/memory.events"
                    }
                case .cgroupV1:
                    let controller = Self.v1Controller[kind]!
                    guard let root = v1Roots[controller] else { throw .setup("\(kind.rawValue): no cgroup v1 \(controller) root") }
                    let dir = root + "/" + name
                    var failed = mkdir(dir, 0o755) != 0 && errno != EEXIST
                    if failed, errno == ENOENT {  // the root was removed meanwhile (StaleCgroupRoots)
                        _ = mkdir(root, 0o755)
                        failed = mkdir(dir, 0o755) != 0 && errno != EEXIST
                    }
                    if failed {
                        throw .setup("cannot create the cgroup \(dir): \(String(cString: strerror(errno)))")
                    }
                    applied.v1Directories.append(dir)
                    for (file, text) in Self.v1Files(kind, value) where !CgroupTree.writeFile(dir + "/" + file, text) {
                        throw .setup("cannot set \(kind.rawValue): writing \(text) to \(dir)/\(file): \(String(cString: strerror(errno)))")
                    }
                    if kind == .memoryBytes {
                        // Swap counts too when swap accounting is on (else the file is missing).
                        _ = CgroupTree.writeFile(dir + "/memory.memsw.limit_in_bytes", String(Int64(value)))
                        applied.oomCounter = dir + "/memory.oom_control"
                    }
                    let fd = open(dir + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
                    guard fd >= 0 else { throw .setup("cannot open \(dir)/cgroup.procs: \(String(cString: strerror(errno)))") }
                    applied.procsFDs.append(fd)
                }
            }
        } catch {
            applied.closeProcs()
            applied.release()
            throw error
        }
        return applied
    }

    /// v2 files and values: memory.max in bytes, cpu.max "quota period" (period 100 ms), pids.max.
    private static func v2Files(_ kind: JobLimits.Kind, _ value: Double) -> [(String, String)] {
        switch kind {
        case .memoryBytes: [("memory.max", String(Int64(value)))]
        case .cpu: [("cpu.max", "\(cpuQuota(value)) 100000")]
        case .pids: [("pids.max", String(Int64(value)))]
        default: []
        }
    }

    private static func v1Files(_ kind: JobLimits.Kind, _ value: Double) -> [(String, String)] {
        switch kind {
        case .memoryBytes: [("memory.limit_in_bytes", String(Int64(value)))]
        case .cpu: [("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", String(cpuQuota(value)))]
        case .pids: [("pids.max", String(Int64(value)))]
        default: []
        }
    }

    /// Microseconds per 100 ms period for `cores` (at least the kernel's 1 ms minimum).
    private static func cpuQuota(_ cores: Double) -> Int64 { max(1000, Int64((cores * 100_000).rounded())) }

    /// The v1 roots of the engine on `dataDirectory`, where they exist.
    static func v1Roots(dataDirectory: String) -> [String] {
        let name = "jobsd-" + CgroupTree.fnv1a(CgroupTree.absolute(dataDirectory))
        return v1Hierarchies().values.map { $0 + "/" + name }.filter { access($0, F_OK) == 0 }
    }

    /// Removes a recovered job's v1 cgroups (`name`: its id or cleanup name) once its processes
    /// are gone.
    func removeV1(_ name: String) {
        for root in v1Roots.values { rmdir(root + "/" + name) }
    }

    /// Removes this engine's v1 cgroups that no job holds (at start, after recovery: cgroups of
    /// jobs of a crashed run), and the roots too when `removingRoots` (engine stop) and empty.
    func sweepV1(removingRoots: Bool) {
        Self.sweepV1(Array(v1Roots.values), removingRoots: removingRoots)
    }

    static func sweepV1(_ roots: [String], removingRoots: Bool) {
        for root in roots {
            for child in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
                var st = stat()
                if stat(root + "/" + child, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { rmdir(root + "/" + child) }
            }
            if removingRoots { rmdir(root) }
        }
    }

    /// Kills and removes every cgroup, v2 and v1, of the engine on `dataDirectory` (see
    /// `JobEngine.discardCgroups`).
    static func discardAll(dataDirectory: String) {
        let v1 = v1Roots(dataDirectory: dataDirectory)
        CgroupTree.located(dataDirectory: dataDirectory)?.discard()
        sweepV1(v1, removingRoots: true)
    }
}

/// One job's limits as applied: the v1 cgroups it enters (their `cgroup.procs` open until it has
/// spawned), the rlimits, and where its OOM kills are counted. `release()` removes the v1
/// cgroups once the job's processes are gone.
///
/// Not thread-safe: built by `ResourceControl.apply`, read by the spawning thread, then read
/// (`oomKills`) and released by the job's supervision after its tree is empty.
final class AppliedLimits: @unchecked Sendable {
    var rlimits: [(resource: Int32, soft: UInt64, hard: UInt64)] = []
    var v1Directories: [String] = []
    var procsFDs: [Int32] = []
    /// `memory.events` (v2) or `memory.oom_control` (v1): both count `oom_kill N`.
    var oomCounter: String?

    /// How many processes of the job the kernel's OOM killer killed (0 without a memory limit).
    var oomKills: Int {
        guard let oomCounter, let text = try? String(contentsOfFile: oomCounter, encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("oom_kill ") {
            return Int(line.dropFirst("oom_kill ".count)) ?? 0
        }
        return 0
    }

    /// Closes the `cgroup.procs` fds (after the spawn: the child has entered them or failed).
    func closeProcs() {
        procsFDs.forEach { close($0) }
        procsFDs = []
    }

    /// Removes the v1 cgroups (they must be empty: the job's tree is gone).
    func release() {
        for dir in v1Directories {
            for _ in 0..<50 {
                if rmdir(dir) == 0 || errno != EBUSY { break }
                usleep(1000)
            }
        }
        v1Directories = []
    }
}
