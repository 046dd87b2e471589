import Foundation
import JobsdAPI

/// The output of one job on disk, under `<data>/logs/<id>/`: stdout and stderr interleaved in
/// arrival order (`data`), plus an index of which stream wrote each run of bytes (`index`), so
/// either stream can be served alone.
///
/// Offsets are logical: byte `n` is the n-th byte the job ever wrote (both streams together).
/// At most `maxBytes` of the newest bytes are kept; past that the oldest are dropped (the files
/// are compacted once they hold twice the cap, so appends stay amortised O(1)) and `truncated`
/// becomes true. The files survive a restart of jobsd; `remove` deletes them (retention).
///
/// `data` starts with a 16-byte header (logical offset of its first byte, cap); `index` is a
/// sequence of 9-byte entries (stream, logical end offset of the run).
///
/// Thread-safe: every field below `lock` is guarded by it. One writer (the job's output pump)
/// and any number of readers.
public final class JobLog: OpenJobLog, @unchecked Sendable {
    public let directory: String
    let lock = NSLock()
    // MARK: guarded by `lock`
    var dataFD: Int32
    var indexFD: Int32
    /// Logical offset of the first byte physically in `data`.
    var base: UInt64
    /// Logical offset one past the last byte written.
    var end: UInt64
    let maxBytes: UInt64
    /// Runs with end > base, oldest first.
    var runs: [Run]
    /// Appends are taken (a log created for a starting job) until `close()`.
    var writable: Bool
    /// Bytes appends could not store (write errors), in all; and that total when the current
    /// run of failures began (nil while appends succeed).
    var dropped: UInt64 = 0
    var droppedBefore: UInt64?
    /// Told when appends begin and stop dropping output (`JobLogStore.create`), outside `lock`.
    let onDrop: (@Sendable (JobLogDrop) -> Void)?
    /// uid and gid the directory and files are given when created (a job run as another user);
    /// nil: jobsd's. Set once, before the first write.
    var owner: (uid: UInt32, gid: UInt32)?

    struct Run: Equatable {
        var stream: LogStream
        var end: UInt64
    }

    static let headerSize: UInt64 = 16
    static let entrySize = 9

    init(
        directory: String, dataFD: Int32, indexFD: Int32, base: UInt64, end: UInt64, maxBytes: UInt64, runs: [Run], writable: Bool,
        onDrop: (@Sendable (JobLogDrop) -> Void)? = nil
    ) {
        self.directory = directory
        self.dataFD = dataFD
        self.indexFD = indexFD
        self.base = base
        self.end = end
        self.maxBytes = maxBytes
        self.runs = runs
        self.writable = writable
        self.onDrop = onDrop
    }

    deinit {
        if dataFD >= 0 { Glibc.close(dataFD) }
        if indexFD >= 0 { Glibc.close(indexFD) }
    }

    /// The log id of one attempt of a job: the job's id for the first attempt (`logs/<id>/`),
    /// `<id>/<n>` for attempt n > 1 (`logs/<id>/<n>/`), so `remove` of the job's id removes them
    /// all.
    public static func attemptID(_ id: String, attempt: Int) -> String { attempt <= 1 ? id : "\(id)/\(attempt)" }

    /// `<dataDirectory>/logs/<id>`.
    public static func directory(dataDirectory: String, id: String) -> String { "\(dataDirectory)/logs/\(id)" }

    /// Deletes the job's log files and directory (retention). Missing files are not an error.
    /// Unlinks the files it knows and removes the directory; walks it only if something else
    /// is left inside.
    public static func remove(dataDirectory: String, id: String) {
        let dir = directory(dataDirectory: dataDirectory, id: id)
        for name in ["data", "index", "data.tmp", "index.tmp"] { unlink("\(dir)/\(name)") }
        if rmdir(dir) == 0 || errno == ENOENT { return }
        try? FileManager.default.removeItem(atPath: dir)
    }

    // MARK: - Reading

    /// Logical offset one past the newest byte.
    public var endOffset: UInt64 { lock.withLock { end } }

    /// Bytes currently kept (at most the cap).
    public var keptBytes: Int64 { lock.withLock { Int64(end - keptStart) } }

    /// Output bytes appends could not store because the files could not be written (not the
    /// oldest bytes the cap drops).
    public var droppedBytes: Int64 { lock.withLock { Int64(dropped) } }

    /// True once any byte has been dropped because of the cap.
    public var truncated: Bool { lock.withLock { keptStart > 0 } }

    /// Logical offset of the oldest kept byte. Caller holds `lock`.
    var keptStart: UInt64 { max(base, end > maxBytes ? end - maxBytes : 0) }

    /// The kept bytes from logical offset `from` (nil: the oldest kept) to the end, of one stream
    /// or of both interleaved. `truncated` is true when bytes at or after `from` were dropped by
    /// the cap (for `from == nil`: when anything was dropped).
    public func read(stream: LogStream?, from: UInt64?) -> JobLogSlice {
        lock.withLock {
            let start = keptStart
            let requested = from ?? 0
            let lower = max(requested, start)
            let truncated = requested < start && start > 0
            guard lower < end else { return JobLogSlice(bytes: [], truncated: truncated, next: max(end, requested)) }
            var bytes: [UInt8] = []
            if let stream {
                var runStart = base
                for run in runs {
                    defer { runStart = run.end }
                    guard run.stream == stream, run.end > lower else { continue }
                    let a = max(runStart, lower)
                    bytes += readData(a, run.end)
                }
            } else {
                bytes = readData(lower, end)
            }
            return JobLogSlice(bytes: bytes, truncated: truncated, next: end)
        }
    }

    /// pread of logical range [a, b). Caller holds `lock`.
    func readData(_ a: UInt64, _ b: UInt64) -> [UInt8] {
        guard b > a else { return [] }
        if dataFD < 0 {
            // Closed: read through a temporary descriptor.
            guard let fd = try? Self.openFile("\(directory)/data", O_RDONLY) else { return [] }
            dataFD = fd
            defer {
                Glibc.close(fd)
                dataFD = -1
            }
            return readData(a, b)
        }
        let count = Int(b - a)
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        out.withUnsafeMutableBytes { buf in
            while done < count {
                let n = pread(dataFD, buf.baseAddress! + done, count - done, off_t(Self.headerSize + a - base) + off_t(done))
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                done += n
            }
        }
        return done == count ? out : Array(out.prefix(done))
    }
}

/// Bytes read from a `JobLog`.
public struct JobLogSlice: Sendable, Equatable {
    public var bytes: [UInt8]
    /// Bytes the reader would have seen were dropped because of the cap.
    public var truncated: Bool
    /// Logical offset to continue from.
    public var next: UInt64
}
