import CProcessSupport
import Foundation
import Glibc
import JobsdAPI
import JobsdMetrics
import JobsdStore

/// Moves a job's stdout and stderr from their pipes into its `JobLog` on a thread of its own
/// (poll + read: the blocking-I/O boundary), calling `onOutput` after each append.
///
/// A thread rather than Dispatch read sources: under heavy job churn (hundreds of sources
/// registered and torn down per second) libdispatch's epoll manager crashed on a freed
/// registration; a pump thread owns its fds outright and closes them itself.
///
/// A read end is closed only at end-of-file — when no process holds the write end any more — or
/// by `close()` after the whole process tree is gone, so a job printing while it is being
/// stopped never dies of SIGPIPE.
///
/// Thread-safe: `finished` is guarded by `lock`; the fds belong to the pump thread.
final class OutputPump: @unchecked Sendable {
    private let lock = PThreadLock()
    private var finished = false  // guarded by `lock`
    private let drained = AsyncCondition()
    /// Written by `close()` to wake the pump thread; read end polled by it.
    private let wake: (read: Int32, write: Int32)

    /// Takes ownership of the read ends.
    init(stdout: Int32, stderr: Int32, log: JobLog?, onOutput: @escaping @Sendable () -> Void) {
        var fds: [Int32] = [-1, -1]
        if jobsd_pipe_cloexec(&fds) != 0 { fds = [-1, -1] }
        wake = (fds[0], fds[1])
        let wakeRead = wake.read
        let thread = Thread { [self] in
            Self.pump([(stdout, .stdout), (stderr, .stderr)], wake: wakeRead, log: log, onOutput: onOutput)
            lock.withLock { finished = true }
            drained.broadcast()
        }
        thread.name = "jobsd.output"
        thread.stackSize = 256 * 1024
        thread.start()
    }

    deinit {
        if wake.read >= 0 { Glibc.close(wake.read) }
        if wake.write >= 0 { Glibc.close(wake.write) }
    }

    /// Reads until every pipe reached end-of-file or the wake pipe is written; then reads what is
    /// left without blocking and closes the pipes.
    private static func pump(_ pipes: [(Int32, LogStream)], wake: Int32, log: JobLog?, onOutput: @Sendable () -> Void) {
        var open = pipes
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
        defer { buffer.deallocate() }
        /// Reads `fd` until it would block (false) or reached end-of-file / an error (true).
        func drain(_ fd: Int32, _ stream: LogStream) -> Bool {
            while true {
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n > 0 {
                    log?.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), stream: stream)
                    onOutput()
                    continue
                }
                if n < 0, errno == EINTR { continue }
                return !(n < 0 && errno == EAGAIN)
            }
        }
        for (fd, _) in open { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var stopping = false
        while !open.isEmpty, !stopping {
            var polled = open.map { pollfd(fd: $0.0, events: Int16(POLLIN), revents: 0) }
            if wake >= 0 { polled.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&polled, nfds_t(polled.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if wake >= 0, polled[polled.count - 1].revents != 0 { stopping = true }
            var still: [(Int32, LogStream)] = []
            for (i, (fd, stream)) in open.enumerated() {
                if polled[i].revents != 0, drain(fd, stream) {
                    Glibc.close(fd)
                } else {
                    still.append((fd, stream))
                }
            }
            open = still
        }
        for (fd, stream) in open {
            _ = drain(fd, stream)
            Glibc.close(fd)
        }
    }

    /// Suspends until both pipes reached end-of-file or `timeout` passes; true when drained.
    func waitUntilDrained(timeout: Double) async -> Bool {
        await drained.wait(timeout: timeout, cancellable: false) { self.lock.withLock { self.finished } }
    }

    /// Stops reading and closes the read ends (after the process tree is gone); waits for it.
    func close() async {
        var byte: UInt8 = 1
        if wake.write >= 0 { _ = write(wake.write, &byte, 1) }
        _ = await waitUntilDrained(timeout: 5)
    }
}
