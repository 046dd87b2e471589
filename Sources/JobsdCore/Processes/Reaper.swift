import CProcessSupport
import Glibc
import JobsdMetrics

/// The one owner of `waitpid` in the process. jobsd is a child subreaper, so besides the
/// children it spawns it also inherits orphans (escaped descendants of jobs); `reapExited` reaps
/// every exited child: registered children get their status delivered to their exit handler,
/// orphans are reaped and dropped, so nothing stays a zombie. No thread of its own: a pidfd per
/// spawned child in `JobEventLoop`'s epoll set runs `reapExited` on the loop's queue when the
/// child exits; a signal ladder runs it once a job's tree is gone (its escaped orphans); the loop's
/// timer sweeps the rest.
///
/// Spawning happens under `lock` and the pid is registered under it too; `reapExited` calls
/// `waitpid` only under `lock`, so a registered child is never mistaken for an orphan and its
/// `/proc/<pid>/stat` can be read right after spawn.
///
/// Anything else in the process that waits for its own children (Foundation.Process) races with
/// this: spawn helper processes through `ChildProcess` instead.
///
/// Thread-safe: `handlers` is guarded by `lock`.
final class Reaper: @unchecked Sendable {
    static let shared = Reaper()

    /// Whether `PR_SET_CHILD_SUBREAPER` took effect.
    let isSubreaper: Bool
    private let lock = PThreadLock()
    private var handlers: [pid_t: @Sendable (ExitStatus) -> Void] = [:]  // guarded by `lock`

    private init() {
        isSubreaper = jobsd_set_child_subreaper() == 0
    }

    /// Spawns a process (see `jobsd_spawn`) with `options` (its cgroups, rlimits and user) and
    /// registers `onExit`, called once with the exit status (on the event loop's queue or the
    /// thread of a `reapExited`: it must be quick and never block). Returns the pid and its start
    /// time in clock ticks.
    func spawn(
        path: String, argv: [String], env: [String], cwd: String?, stdin: Int32, stdout: Int32, stderr: Int32,
        options: SpawnOptions = SpawnOptions(), onExit: @escaping @Sendable (ExitStatus) -> Void
    ) throws(SpawnError) -> (pid: pid_t, startTicks: UInt64?) {
        let (pid, ticks, _) = try register(argv: argv, env: env, name: argv.first ?? path, onExit: onExit, pidfd: false) { pid, cArgv, cEnv in
            options.withCOptions { jobsd_spawn(&pid, path, cArgv, cEnv, cwd, stdin, stdout, stderr, $0) }
        }
        return (pid, ticks)
    }

    /// Forks a per-job subreaper that runs `path` (see `jobsd_spawn_subreaper`; `Subreaper` reads
    /// its `statusFD`) with `options`' rlimits and user (no cgroups). It is reaped here without a
    /// handler; returns its pid, start time and a pidfd naming it (opened before it can be
    /// reaped, so it is never another process).
    func spawnSubreaper(
        path: String, argv: [String], env: [String], cwd: String?, stdin: Int32, stdout: Int32, stderr: Int32, statusFD: Int32,
        options: SpawnOptions
    ) throws(SpawnError) -> (pid: pid_t, startTicks: UInt64?, pidfd: Int32) {
        let (pid, ticks, pidfd) = try register(argv: argv, env: env, name: argv.first ?? path, onExit: { _ in }, pidfd: true) { pid, cArgv, cEnv in
            options.withCOptions { jobsd_spawn_subreaper(&pid, path, cArgv, cEnv, cwd, stdin, stdout, stderr, statusFD, $0) }
        }
        return (pid, ticks, pidfd)
    }

    /// Runs `spawn` (0 or an errno) under `lock` and registers the new child's `onExit` there, so
    /// no `reapExited` can take it first; reads its start time and opens the pidfd the event loop
    /// watches (and, with `wantsPidfd`, one for the caller) meanwhile.
    private func register(
        argv: [String], env: [String], name: String, onExit: @escaping @Sendable (ExitStatus) -> Void, pidfd wantsPidfd: Bool,
        _ spawn: (inout pid_t, UnsafePointer<UnsafeMutablePointer<CChar>?>, UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Int32
    ) throws(SpawnError) -> (pid_t, UInt64?, Int32) {
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer {
            cArgv.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        let (rc, pid, ticks, exitFD, pidfd): (Int32, pid_t, UInt64?, Int32, Int32) = lock.withLock {
            var pid: pid_t = 0
            let rc = spawn(&pid, cArgv, cEnv)
            guard rc == 0 else { return (rc, 0, nil, -1, -1) }
            handlers[pid] = onExit
            return (0, pid, ProcessTable.info(pid)?.startTicks, jobsd_pidfd_open(pid), wantsPidfd ? jobsd_pidfd_open(pid) : -1)
        }
        guard rc == 0 else { throw SpawnError.cannotExecute(name, errno: rc) }
        // Without a pidfd (out of descriptors) the exit is seen by the event loop's next sweep.
        if exitFD >= 0 { JobEventLoop.shared.watchExit(exitFD) }
        return (pid, ticks, pidfd)
    }

    /// Reaps every child that has exited, without blocking; calls the handlers of registered
    /// ones (outside `lock`). Safe on any thread, any number of times.
    func reapExited() {
        while true {
            var status: Int32 = 0
            let (pid, failure, handler): (pid_t, Int32, (@Sendable (ExitStatus) -> Void)?) = lock.withLock {
                let pid = waitpid(-1, &status, WNOHANG)
                return (pid, pid < 0 ? errno : 0, pid > 0 ? handlers.removeValue(forKey: pid) : nil)
            }
            if pid < 0, failure == EINTR { continue }
            guard pid > 0 else { return }  // none exited (0) or no children at all (ECHILD)
            handler?(ExitStatus(raw: status))
        }
    }
}

/// Why a process could not be started.
public enum SpawnError: Error, Sendable, Equatable, CustomStringConvertible {
    /// argv[0] is not on the job's PATH (or not executable there).
    case commandNotFound(String)
    /// The spawn failed (exec error, permissions, missing cwd, fd limits, cgroup refused).
    case cannotExecute(String, errno: Int32)
    /// Preparing the process (workdir, pipes, stdin) failed.
    case setup(String)

    /// The sentence shown in the job's `error`.
    public var description: String {
        switch self {
        case let .commandNotFound(name): "command not found: \(name)"
        case let .cannotExecute(name, e): "cannot execute \(name): \(String(cString: strerror(e)))"
        case let .setup(why): why
        }
    }
}
