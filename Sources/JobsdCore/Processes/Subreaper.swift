import CProcessSupport
import Foundation
import Glibc
import JobsdMetrics

/// A per-job subreaper (containment without cgroups, `jobsd_spawn_subreaper`): a forked copy of
/// jobsd between jobsd and the job's main process that is `PR_SET_CHILD_SUBREAPER`, so every
/// orphan of the job is re-parented to it, never to jobsd. Its descendants are exactly the job's
/// processes, whatever they do to their environment, session or process group; it exits once the
/// main process has exited and none of them is left.
///
/// It is named by a pidfd, so a signal never reaches another process that got its pid later.
/// `terminate` asks it for SIGTERM to its descendants (SIGUSR1), `killAll` for SIGKILL until none
/// is left (SIGUSR2). Its pid and start time are kept in `<data>/subreapers/<name>` while it
/// lives, so a jobsd restarted after a crash finds it (`recovered`) and stops the tree through it.
///
/// Thread-safe: `escaped` and `statusOpen` are guarded by `lock`; the rest is immutable.
final class Subreaper: ContainedTree, @unchecked Sendable {
    let pid: pid_t
    private let pidfd: Int32
    private let recordPath: String
    private let lock = PThreadLock()
    private var escaped = 0
    /// Its status pipe has not reached end-of-file: reports (escaped counts) may still come.
    private var statusOpen: Bool

    private init(pid: pid_t, pidfd: Int32, recordPath: String, statusOpen: Bool) {
        self.pid = pid
        self.pidfd = pidfd
        self.recordPath = recordPath
        self.statusOpen = statusOpen
    }

    deinit { close(pidfd) }

    /// Forks a subreaper that runs `path` (see `jobsd_spawn_subreaper`), waits for its first
    /// message (the main process's pid, or the exec error) and from then on delivers the main
    /// process's exit to `onExit` (on the output loop's thread; a subreaper that dies before it
    /// reported one reports SIGKILL). The subreaper itself is reaped by `Reaper`. When it cannot
    /// be forked or its command not started, nothing is left: the status pipe is closed.
    static func spawn(
        name: String, registry: String, path: String, argv: [String], env: [String], cwd: String?,
        stdin: Int32, stdout: Int32, stderr: Int32, options: SpawnOptions, onExit: @escaping @Sendable (ExitStatus) -> Void
    ) throws(SpawnError) -> (main: pid_t, tree: Subreaper) {
        let status = try Pipes.pipe()
        let spawned: (pid: pid_t, startTicks: UInt64?, pidfd: Int32)
        do {
            spawned = try Reaper.shared.spawnSubreaper(
                path: path, argv: argv, env: env, cwd: cwd, stdin: stdin, stdout: stdout, stderr: stderr, statusFD: status.write,
                options: options)
        } catch {
            // No subreaper (the fork failed: EAGAIN, ENOMEM): its status pipe goes with it.
            close(status.read)
            close(status.write)
            throw error
        }
        let (pid, ticks, pidfd) = spawned
        close(status.write)
        // The first message comes within the subreaper's spawn of the command (it is the sole
        // writer: end-of-file means it died first).
        var first: (Int32, Int32) = (0, 0)
        let n = withUnsafeMutableBytes(of: &first) { buffer in
            var done = 0
            while done < 8 {
                let r = read(status.read, buffer.baseAddress! + done, 8 - done)
                if r < 0, errno == EINTR { continue }
                if r <= 0 { break }
                done += r
            }
            return done
        }
        guard n == 8, first.0 == Int32(JOBSD_SUBREAPER_STARTED) else {
            close(status.read)
            close(pidfd)
            let e = n == 8 && first.0 == Int32(JOBSD_SUBREAPER_FAILED) ? first.1 : ECHILD
            throw .cannotExecute(argv.first ?? path, errno: e)
        }
        try? FileManager.default.createDirectory(atPath: registry, withIntermediateDirectories: true)
        let recordPath = registry + "/" + name
        _ = FileManager.default.createFile(atPath: recordPath, contents: Data("\(pid) \(ticks ?? 0)\n".utf8))
        let tree = Subreaper(pid: pid, pidfd: pidfd, recordPath: recordPath, statusOpen: true)
        OutputLoop.shared.register(status.read, channel: SubreaperChannel(tree: tree, onExit: onExit))
        return (first.1, tree)
    }

    /// The subreaper recorded as `name` in `registry` by a previous jobsd, when it still runs
    /// (same pid and start time).
    static func recovered(name: String, registry: String) -> Subreaper? {
        let recordPath = registry + "/" + name
        guard let text = try? String(contentsOfFile: recordPath, encoding: .utf8) else { return nil }
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let pid = pid_t(fields[0]), let ticks = UInt64(fields[1]) else { return nil }
        let pidfd = jobsd_pidfd_open(pid)
        guard pidfd >= 0 else {
            unlink(recordPath)
            return nil
        }
        // Opened first, checked second: the pidfd names the process whose start time matched.
        guard let info = ProcessTable.info(pid), info.startTicks == ticks, !info.isDead else {
            close(pidfd)
            unlink(recordPath)
            return nil
        }
        return Subreaper(pid: pid, pidfd: pidfd, recordPath: recordPath, statusOpen: false)  // no pipe to this jobsd
    }

    /// Records escaped processes a SIGUSR1 reached (from the status pipe).
    func reportEscaped(_ count: Int) { lock.withLock { escaped += count } }

    /// The status pipe reached end-of-file: every report is in.
    func statusClosed() { lock.withLock { statusOpen = false } }

    // MARK: - ContainedTree

    func terminate(sparing sparedGroup: pid_t?, mainGroup: pid_t?) -> Int {
        _ = jobsd_pidfd_signal(pidfd, SIGUSR1, sparedGroup ?? 0)
        return 0
    }

    func killAll() { _ = jobsd_pidfd_signal(pidfd, SIGUSR2, 0) }

    /// Until the subreaper exited and its status pipe is drained, so that `escapedReported` is
    /// complete when the ladder sees the tree gone.
    var isPopulated: Bool { jobsd_pidfd_exited(pidfd) == 0 || lock.withLock { statusOpen } }
    /// The subreaper does not count its descendants: 1 while any is alive (a lower bound).
    var processCount: Int { isPopulated ? 1 : 0 }

    var escapedReported: Int { lock.withLock { escaped } }

    /// Not reported: the ladder polls `isPopulated` (the subreaper's exit).
    func observe(_ onChange: @escaping @Sendable () -> Void) -> (@Sendable () -> Void)? { nil }

    func release() { unlink(recordPath) }
}

/// What the output loop reads from a subreaper's status pipe: the main process's exit (handed to
/// `onExit` once) and counts of escaped processes signalled. At end-of-file without an exit (the
/// subreaper was killed), `onExit` gets SIGKILL, so the job still ends.
///
/// Called on the output loop's thread only; `partial` and `exited` are touched there alone.
final class SubreaperChannel: @unchecked Sendable {
    private let tree: Subreaper
    private let onExit: @Sendable (ExitStatus) -> Void
    private var partial: [UInt8] = []
    private var exited = false

    init(tree: Subreaper, onExit: @escaping @Sendable (ExitStatus) -> Void) {
        self.tree = tree
        self.onExit = onExit
    }

    func received(_ bytes: UnsafeRawBufferPointer) {
        partial.append(contentsOf: bytes)
        var at = 0
        while partial.count - at >= 8 {
            let (kind, value) = partial.withUnsafeBytes { raw in
                (raw.loadUnaligned(fromByteOffset: at, as: Int32.self), raw.loadUnaligned(fromByteOffset: at + 4, as: Int32.self))
            }
            at += 8
            switch Int(kind) {
            case JOBSD_SUBREAPER_EXITED where !exited:
                exited = true
                onExit(ExitStatus(raw: value))
            case JOBSD_SUBREAPER_ESCAPED:
                tree.reportEscaped(Int(value))
            default:
                break
            }
        }
        partial.removeFirst(at)
    }

    func closed() {
        tree.statusClosed()
        if !exited {
            exited = true
            onExit(ExitStatus(raw: SIGKILL))
        }
    }
}
