import JobsdAPI
import JobsdMetrics
import JobsdStore

/// One job's stdout and stderr on their way into its log (`OpenJobLog`): the shared `OutputLoop` reads
/// the pipes and calls `onOutput` after each append (on the loop thread: keep it cheap).
///
/// A read end is closed only at end-of-file — when no process holds the write end any more — or
/// by `close()` after the whole process tree is gone, so a job printing while it is being
/// stopped never dies of SIGPIPE.
///
/// Thread-safe: `openPipes` and `registered` are guarded by `lock`.
final class OutputPump: @unchecked Sendable {
    let log: (any OpenJobLog)?
    let onOutput: @Sendable () -> Void
    private let lock = PThreadLock()
    private var openPipes = 2  // guarded by `lock`
    private var registered: [UInt64] = []  // guarded by `lock`
    private let drained = AsyncCondition()

    /// Takes ownership of the read ends.
    init(stdout: Int32, stderr: Int32, log: (any OpenJobLog)?, onOutput: @escaping @Sendable () -> Void) {
        self.log = log
        self.onOutput = onOutput
        let tokens = OutputLoop.shared.register([(stdout, .stdout), (stderr, .stderr)], pump: self)
        lock.withLock { registered = tokens }
    }

    /// The loop's tokens of this pump's pipes.
    var tokens: [UInt64] { lock.withLock { registered } }

    /// Called by the loop when it closed one of the pipes.
    func pipeClosed() {
        let done = lock.withLock {
            openPipes -= 1
            return openPipes == 0
        }
        if done { drained.broadcast() }
    }

    /// Suspends until both pipes reached end-of-file or `timeout` passes; true when drained.
    func waitUntilDrained(timeout: Double) async -> Bool {
        await drained.wait(timeout: timeout, cancellable: false) { self.lock.withLock { self.openPipes == 0 } }
    }

    /// Stops reading (after what the pipes hold now) and closes the read ends (after the process
    /// tree is gone); waits for it, at most 5 seconds.
    func close() async {
        OutputLoop.shared.close(self)
        _ = await waitUntilDrained(timeout: 5)
    }
}
