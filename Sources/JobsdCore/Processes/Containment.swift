import Glibc
import JobsdAPI
import Logging

/// Which containment `--containment` asks for (`JOBSD_CONTAINMENT`).
public enum ContainmentChoice: String, Sendable, CaseIterable {
    /// cgroup when the machine allows it, else proc.
    case auto
    /// cgroup or refuse to start.
    case cgroup
    /// The per-job subreaper, even where cgroups are writable.
    case proc
}

/// How the engine finds every process of a job — the one thing that makes "nothing of the job
/// survives it" true.
public enum ContainmentMethod: String, Sendable {
    /// A cgroup v2 per job (`CgroupTree`): the kernel keeps every descendant in it, whatever it
    /// does to its environment, session or parentage.
    case cgroup
    /// A per-job subreaper process between jobsd and the job (`Subreaper`): orphans of the job
    /// are re-parented to it, so its descendant tree is exactly the job's processes.
    case proc
}

/// The containment in force for one engine, chosen once at its start.
struct Containment: Sendable {
    let method: ContainmentMethod
    /// Where the jobs' cgroups live (method `.cgroup`).
    let cgroups: CgroupTree?
    /// Where live subreapers are recorded (method `.proc`): `<data>/subreapers`.
    let registry: String
    /// One sentence for the log and `/readyz`: the cgroup root, or why cgroups are not used.
    let detail: String
    /// Which job limits can be enforced, and how (set by `choose`).
    private(set) var resources = ResourceControl(mechanisms: [:], unavailable: [:], v1Roots: [:])

    /// `.auto`: cgroup when `CgroupTree.prepare` succeeds, else proc (the reason is kept in
    /// `detail`). `.cgroup`: throws when it fails. `.proc`: never touches cgroups.
    static func choose(_ choice: ContainmentChoice, dataDirectory: String) throws(ContainmentError) -> Containment {
        var containment = try method(choice, dataDirectory: dataDirectory)
        containment.resources = ResourceControl.prepare(containment: containment, dataDirectory: dataDirectory)
        return containment
    }

    private static func method(_ choice: ContainmentChoice, dataDirectory: String) throws(ContainmentError) -> Containment {
        let registry = dataDirectory + "/subreapers"
        switch choice {
        case .proc:
            return Containment(method: .proc, cgroups: nil, registry: registry, detail: "per-job subreaper (--containment proc)")
        case .cgroup:
            let tree = try CgroupTree.prepare(dataDirectory: dataDirectory)
            return Containment(method: .cgroup, cgroups: tree, registry: registry, detail: tree.root)
        case .auto:
            do {
                let tree = try CgroupTree.prepare(dataDirectory: dataDirectory)
                return Containment(method: .cgroup, cgroups: tree, registry: registry, detail: tree.root)
            } catch {
                return Containment(method: .proc, cgroups: nil, registry: registry, detail: "per-job subreaper; no cgroup: \(error)")
            }
        }
    }
}

/// Why the chosen containment cannot be used.
public enum ContainmentError: Error, Sendable, CustomStringConvertible {
    case unavailable(String)

    public var description: String {
        switch self {
        case let .unavailable(why): why
        }
    }
}

// MARK: - Spawning into it

/// A process tree just started under the engine's containment.
struct ContainedSpawn: Sendable {
    /// The main process (the job's command).
    var pid: pid_t
    /// Its start time in clock ticks since boot, when readable.
    var startTicks: UInt64?
    var tree: any ContainedTree
    /// The job's limits as applied (their v1 cgroups, OOM counter); nil without limits.
    var limits: AppliedLimits?
}

extension Containment {
    /// Starts `argv` as the main process of a new tree named `name` (a job id, or
    /// `<id>.cleanup`): with method `.cgroup` in the new cgroup `<root>/<name>` from its first
    /// instruction on; with method `.proc` below a new `Subreaper`; in either case with `limits`
    /// (see `ResourceControl`) and as `user` (nil: jobsd's own) before it execs. `onExit` gets
    /// the main process's exit status once (on the reaper's thread, or the output loop's for a
    /// subreaper). On a spawn failure nothing is left behind (the cgroups are removed).
    func spawn(
        _ name: String, jobID: String, path: String, argv: [String], env: [String], cwd: String?,
        stdin: Int32, stdout: Int32, stderr: Int32, limits: JobLimits? = nil, user: UserCredentials? = nil,
        onExit: @escaping @Sendable (ExitStatus) -> Void
    ) throws(SpawnError) -> ContainedSpawn {
        var options = SpawnOptions(credentials: user)
        guard let cgroups else {
            let applied = try limits.map { limits throws(SpawnError) in try resources.apply(limits, name: name, cgroup: nil) }
            options.rlimits = applied?.rlimits ?? []
            let (main, tree) = try Subreaper.spawn(
                name: name, registry: registry, path: path, argv: argv, env: env, cwd: cwd, stdin: stdin, stdout: stdout, stderr: stderr,
                options: options, onExit: onExit)
            return ContainedSpawn(pid: main, startTicks: ProcessTable.info(main)?.startTicks, tree: tree, limits: applied)
        }
        let cgroup: JobCgroup
        do { cgroup = try cgroups.create(name) } catch { throw .setup("\(error)") }
        var applied: AppliedLimits?
        do throws(SpawnError) {
            applied = try limits.map { limits throws(SpawnError) in try resources.apply(limits, name: name, cgroup: cgroup) }
            defer { applied?.closeProcs() }
            options.cgroup = cgroup.fd
            options.v1Procs = applied?.procsFDs ?? []
            options.rlimits = applied?.rlimits ?? []
            let (pid, ticks) = try Reaper.shared.spawn(
                path: path, argv: argv, env: env, cwd: cwd, stdin: stdin, stdout: stdout, stderr: stderr, options: options, onExit: onExit)
            return ContainedSpawn(pid: pid, startTicks: ticks, tree: cgroup, limits: applied)
        } catch {
            cgroup.remove()
            applied?.release()
            throw error
        }
    }

    /// The trees a job interrupted by a stop of the server may have left (recovery): its own and
    /// its cleanup command's for the job's current attempt (`attempt`), found by the job id: its
    /// cgroups, or its recorded subreapers.
    func leftovers(of jobID: String, attempt: Int) -> [any ContainedTree] {
        let names = [Self.treeName(jobID, attempt: attempt), Self.cleanupName(jobID, attempt: attempt)]
        guard let cgroups else { return names.compactMap { Subreaper.recovered(name: $0, registry: registry) } }
        return names.compactMap { cgroups.existing($0) }
    }

    /// The cgroup (or subreaper) name of one attempt of a job: its id for the first, `<id>.<n>`
    /// for a retry, so a retry never lands in the cgroup of an attempt still being torn down.
    static func treeName(_ jobID: String, attempt: Int) -> String { attempt <= 1 ? jobID : "\(jobID).\(attempt)" }

    /// The cgroup (or subreaper) name of a job attempt's cleanup command.
    static func cleanupName(_ jobID: String, attempt: Int) -> String { treeName(jobID, attempt: attempt) + ".cleanup" }

    /// The job id a cgroup name (`treeName`, `cleanupName`) belongs to.
    static func jobID(ofTree name: String) -> String { String(name.prefix { $0 != "." }) }
}
