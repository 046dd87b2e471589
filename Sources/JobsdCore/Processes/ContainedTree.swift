import Glibc

/// The processes of one job (or of one cleanup command) as the `SignalLadder` sees them, however
/// they are contained: a cgroup (`JobCgroup`) or a per-job subreaper (`Subreaper`). The ladder
/// signals the main process's group itself; the tree covers everything else.
protocol ContainedTree: Sendable {
    /// SIGTERM to every process of the tree except members of `sparedGroup` (they got it from
    /// the ladder; nil: spare none). Returns how many signalled processes were outside
    /// `mainGroup` (escaped descendants) when that is known at once, else 0 (see
    /// `escapedReported`).
    func terminate(sparing sparedGroup: pid_t?, mainGroup: pid_t?) -> Int
    /// SIGKILL to every process of the tree.
    func killAll()
    /// True while any process of the tree is alive (zombies do not count).
    var isPopulated: Bool { get }
    /// How many processes of the tree are alive (for the timeline's `signal_sent.pids`).
    var processCount: Int { get }
    /// Escaped descendants signalled that the tree reported later (a subreaper counts them).
    var escapedReported: Int { get }
    /// Calls `onChange` (on any thread) whenever the tree may have emptied, until the returned
    /// function is called; nil when the tree does not report its changes (then its waiters only
    /// poll `isPopulated`).
    func observe(_ onChange: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)?
    /// Called once the tree is empty and the job (or cleanup) is done with it: a cgroup removes
    /// its directory.
    func release()
}

extension JobCgroup: ContainedTree {
    func terminate(sparing sparedGroup: pid_t?, mainGroup: pid_t?) -> Int {
        var escaped = 0
        for pid in members() {
            let group = getpgid(pid)
            guard group >= 0, group != sparedGroup else { continue }
            if Glibc.kill(pid, SIGTERM) == 0, group != mainGroup { escaped += 1 }
        }
        return escaped
    }

    func killAll() { kill() }

    var processCount: Int { members().count }

    var escapedReported: Int { 0 }

    /// Through `CgroupEvents` (a notification may come up to 10 ms late, see there).
    func observe(_ onChange: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)? {
        guard let events = CgroupEvents.shared, let observation = events.observe(path, onChange: onChange) else { return nil }
        return { events.end(observation) }
    }

    func release() {
        // An exiting process may hold the cgroup for a moment after `populated 0`.
        for _ in 0..<50 {
            if remove() { return }
            guard errno == EBUSY else { return }
            usleep(1000)
        }
    }
}
