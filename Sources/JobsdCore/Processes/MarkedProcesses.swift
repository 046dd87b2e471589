import Glibc

/// Containment without cgroups, by `/proc` scans: the main process's group, every process
/// whose environment carries `JOBSD_JOB_ID=<id>`, and their descendants (`ProcessTable.members`).
/// Misses a descendant that cleared its environment and left the group once its parent died.
struct MarkedProcesses: ContainedTree {
    let jobID: String
    let processGroup: pid_t?
    let startedAfter: UInt64?

    private func members() -> [ProcStat] {
        ProcessTable.members(jobID: jobID, processGroup: processGroup, startedAfter: startedAfter)
    }

    func terminate(sparing sparedGroup: pid_t?, mainGroup: pid_t?) -> Int {
        var escaped = 0
        for p in members() where p.pgid != sparedGroup {
            if kill(p.pid, SIGTERM) == 0, p.pgid != mainGroup { escaped += 1 }
        }
        return escaped
    }

    func killAll() {
        for p in members() { kill(p.pid, SIGKILL) }
    }

    var isPopulated: Bool { !members().isEmpty }
    var escapedReported: Int { 0 }
    func release() {}
}
