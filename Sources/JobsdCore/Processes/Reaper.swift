import CProcessSupport
import Foundation
import Glibc

/// The one owner of `waitpid` in the process. jobsd is a child subreaper, so besides the
/// children it spawns it also inherits orphans (escaped descendants of jobs); a dedicated thread
/// reaps every child: registered children get their status delivered to their exit handler,
/// orphans are reaped and dropped, so nothing stays a zombie.
///
/// Spawning happens under `mutex` and the pid is registered under it too; the thread peeks at an
/// exited child with `waitid(WNOWAIT)` and reaps it only under `mutex`, so a registered child is
/// never mistaken for an orphan and its `/proc/<pid>/stat` can be read right after spawn.
///
/// Anything else in the process that waits for its own children (Foundation.Process) races with
/// this thread: spawn helper processes through `ChildProcess` instead.
final class Reaper: @unchecked Sendable {
    static let shared = Reaper()

    /// Whether `PR_SET_CHILD_SUBREAPER` took effect.
    let isSubreaper: Bool
    // The mutex and condition are heap-allocated once and never moved.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // MARK: guarded by `mutex`
    private var handlers: [pid_t: @Sendable (ExitStatus) -> Void] = [:]
    /// Bumped on every spawn, so the thread knows there may be a child to wait for again.
    private var generation: UInt64 = 0

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        isSubreaper = jobsd_set_child_subreaper() == 0
        let thread = Thread { [self] in reapForever() }
        thread.name = "jobsd-reaper"
        thread.start()
    }

    /// Spawns a process (see `jobsd_spawn`) with `options` (its cgroups, rlimits and user) and
    /// registers `onExit`, called once on the reaper thread with the exit status. Returns the
    /// pid and its start time in clock ticks.
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

    /// Runs `spawn` (0 or an errno) under `mutex` and registers the new child's `onExit` there, so
    /// the reaper thread cannot take it first; reads its start time (and opens a pidfd) meanwhile.
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
        var pid: pid_t = 0
        pthread_mutex_lock(mutex)
        let rc = spawn(&pid, cArgv, cEnv)
        var ticks: UInt64?
        var pidfd: Int32 = -1
        if rc == 0 {
            handlers[pid] = onExit
            generation &+= 1
            ticks = ProcessTable.info(pid)?.startTicks
            if wantsPidfd { pidfd = jobsd_pidfd_open(pid) }
            pthread_cond_signal(cond)
        }
        pthread_mutex_unlock(mutex)
        guard rc == 0 else { throw SpawnError.cannotExecute(name, errno: rc) }
        return (pid, ticks, pidfd)
    }

    private func reapForever() {
        while true {
            pthread_mutex_lock(mutex)
            let seen = generation
            pthread_mutex_unlock(mutex)
            let pid = jobsd_wait_any_nowait()
            if pid <= 0 {
                let e = errno
                if e == EINTR { continue }
                // No children at all: sleep until the next spawn.
                pthread_mutex_lock(mutex)
                while generation == seen { pthread_cond_wait(cond, mutex) }
                pthread_mutex_unlock(mutex)
                continue
            }
            var status: Int32 = 0
            pthread_mutex_lock(mutex)
            let reaped = waitpid(pid, &status, WNOHANG) == pid
            let handler = reaped ? handlers.removeValue(forKey: pid) : nil
            pthread_mutex_unlock(mutex)
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
