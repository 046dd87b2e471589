import Dispatch
import Glibc
import JobsdAPI
import JobsdMetrics
import JobsdStore

/// Moves a job's stdout and stderr from their pipes into its `JobLog`, on a Dispatch queue (the
/// blocking-I/O boundary), calling `onOutput` after each append.
///
/// A read end is closed only at end-of-file — when no process holds the write end any more — or
/// by `close()` after the whole process tree is gone, so a job printing while it is being
/// stopped never dies of SIGPIPE.
///
/// Thread-safe: `open` is guarded by `lock`; the sources are only touched on `queue`.
final class OutputPump: @unchecked Sendable {
    private let queue: DispatchQueue
    private let lock = PThreadLock()
    private var open = 0  // guarded by `lock`: sources not yet cancelled
    private var sources: [any DispatchSourceRead] = []
    private let drained = AsyncCondition()

    /// Takes ownership of the read ends.
    init(stdout: Int32, stderr: Int32, log: JobLog?, onOutput: @escaping @Sendable () -> Void) {
        queue = DispatchQueue(label: "jobsd.output")
        for (fd, stream) in [(stdout, LogStream.stdout), (stderr, LogStream.stderr)] {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
            source.setEventHandler {
                while true {
                    let n = read(fd, buffer.baseAddress, buffer.count)
                    if n > 0 {
                        log?.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), stream: stream)
                        onOutput()
                        continue
                    }
                    if n < 0, errno == EINTR { continue }
                    if n == 0 || errno != EAGAIN { source.cancel() }
                    return
                }
            }
            source.setCancelHandler { [self] in
                Glibc.close(fd)
                buffer.deallocate()
                let last = lock.withLock {
                    open -= 1
                    return open == 0
                }
                if last { drained.broadcast() }
            }
            sources.append(source)
        }
        open = sources.count
        for source in sources { source.resume() }
    }

    /// Suspends until both pipes reached end-of-file or `timeout` passes; true when drained.
    func waitUntilDrained(timeout: Double) async -> Bool {
        await drained.wait(timeout: timeout, cancellable: false) { self.lock.withLock { self.open == 0 } }
    }

    /// Stops reading and closes the read ends (after the process tree is gone); waits for it.
    func close() async {
        queue.async { [self] in for source in sources where !source.isCancelled { source.cancel() } }
        _ = await waitUntilDrained(timeout: 5)
    }
}
