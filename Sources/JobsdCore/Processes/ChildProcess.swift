import Glibc
import JobsdMetrics

/// A helper process spawned through jobsd's process-wide reaper, for tests and test tooling
/// (e.g. starting the jobsd binary). Use it instead of Foundation.Process, whose own `waitpid`
/// races with the reaper. The child runs in its own session and process group.
public struct ChildProcess: Sendable {
    public let pid: pid_t
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
    public let startTicks: UInt64?
    private let exit: ExitLatch

    /// Spawns `argv` (argv[0] looked up on `env`'s PATH, or the parent's when `env` is nil).
    /// `stdin`/`stdout`/`stderr` nil: inherited from this process. `cwd` nil: this process's.
    public static func spawn(
        argv: [String], env: [String: String]? = nil, cwd: String? = nil,
        stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil
    ) throws(SpawnError) -> ChildProcess {
        let environment = env ?? JobEnvironment.current
        let path = try JobEnvironment.resolve(argv.first ?? "", path: environment["PATH"])
        let latch = ExitLatch()
        let (pid, ticks) = try Reaper.shared.spawn(
            path: path, argv: argv, env: environment.map { "\($0.key)=\($0.value)" }, cwd: cwd,
            stdin: stdin ?? 0, stdout: stdout ?? 1, stderr: stderr ?? 2, onExit: latch.set)
        return ChildProcess(pid: pid, startTicks: ticks, exit: latch)
    }

    /// Suspends until the process has exited and been reaped. Not cancellable: it returns only
    /// when the process is gone (signal it first to make that soon).
    public func wait() async -> ExitStatus { await exit.wait() }

    /// The status if it has exited already.
    public var exitStatus: ExitStatus? { exit.value }

    /// Sends `signal` to the process (not its group); ignored once it has been reaped.
    public func signal(_ signal: Int32) {
        if exit.value == nil { kill(pid, signal) }
    }
}

/// A one-shot exit status with async waiters. `status` is guarded by `lock`; waiters are woken
/// through `condition` after it is set.
final class ExitLatch: @unchecked Sendable {
    private let lock = PThreadLock()
    private var status: ExitStatus?  // guarded by `lock`
    private let condition = AsyncCondition()

    var value: ExitStatus? { lock.withLock { status } }

    @Sendable func set(_ value: ExitStatus) {
        lock.withLock { status = value }
        condition.broadcast()
    }

    func wait() async -> ExitStatus {
        while true {
            await condition.wait(timeout: nil, cancellable: false) { self.value != nil }
            if let value { return value }
        }
    }
}
