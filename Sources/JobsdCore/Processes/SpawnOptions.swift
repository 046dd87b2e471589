import CProcessSupport
import Glibc

/// What a job's process gets in the child before it execs (`jobsd_spawn_options`): the cgroups
/// it starts in, its rlimits and the user it runs as. Nothing of it can be skipped: a failure
/// to apply any part fails the spawn (`SpawnError.cannotExecute`).
struct SpawnOptions: Sendable {
    /// An open cgroup v2 directory (clone3 CLONE_INTO_CGROUP); -1: jobsd's own cgroup.
    var cgroup: Int32 = -1
    /// Open `cgroup.procs` of cgroup v1 controllers the child enters first (at most 4).
    var v1Procs: [Int32] = []
    /// (resource, soft, hard) for setrlimit (at most 4).
    var rlimits: [(resource: Int32, soft: UInt64, hard: UInt64)] = []
    /// The user to switch to; nil: stay jobsd's.
    var credentials: UserCredentials?

    /// Calls `body` with the C struct (valid only during the call).
    func withCOptions<R>(_ body: (UnsafePointer<jobsd_spawn_options>) -> R) -> R {
        var c = jobsd_spawn_options()
        c.cgroup_fd = cgroup
        withUnsafeMutableBytes(of: &c.v1_procs_fds) { raw in
            let fds = raw.bindMemory(to: Int32.self)
            for (i, fd) in v1Procs.prefix(fds.count).enumerated() { fds[i] = fd }
        }
        c.v1_procs_count = Int32(min(v1Procs.count, 4))
        withUnsafeMutableBytes(of: &c.rlimit_resources) { r in
            withUnsafeMutableBytes(of: &c.rlimit_soft) { s in
                withUnsafeMutableBytes(of: &c.rlimit_hard) { h in
                    let (resources, soft, hard) = (r.bindMemory(to: Int32.self), s.bindMemory(to: UInt64.self), h.bindMemory(to: UInt64.self))
                    for (i, limit) in rlimits.prefix(4).enumerated() {
                        resources[i] = limit.resource
                        soft[i] = limit.soft
                        hard[i] = limit.hard
                    }
                }
            }
        }
        c.rlimit_count = Int32(min(rlimits.count, 4))
        guard let credentials else { return body(&c) }
        c.set_user = 1
        c.uid = credentials.uid
        c.gid = credentials.gid
        return credentials.groups.withUnsafeBufferPointer { groups in
            c.groups = groups.baseAddress
            c.group_count = Int32(groups.count)
            return body(&c)
        }
    }
}
