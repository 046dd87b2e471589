import Foundation
import JobsdAPI

/// A failed file operation on a job log, with the call and path.
public struct JobLogError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32
    public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
}

extension JobLog {
    // MARK: - Creating and opening

    /// Creates a fresh, empty log for a job that is starting (replacing any files left there).
    /// Its files are created with the first byte appended, so a job that prints nothing costs
    /// no file system work (reading it finds no log: empty). A failure to create them then drops
    /// the output like a failed write (`append`). `onDrop` hears when drops begin and end.
    /// `owner`: the uid and gid of the job's user when it runs as another user (its log directory
    /// and files are given to it), nil: jobsd's.
    public static func create(
        dataDirectory: String, id: String, maxBytes: Int, owner: (uid: UInt32, gid: UInt32)? = nil,
        onDrop: (@Sendable (JobLogDrop) -> Void)? = nil
    ) -> JobLog {
        // Leftovers exist only when a run was cut short by a crash before its start was stored.
        if access(directory(dataDirectory: dataDirectory, id: id), F_OK) == 0 { remove(dataDirectory: dataDirectory, id: id) }
        let log = JobLog(
            directory: directory(dataDirectory: dataDirectory, id: id), dataFD: -1, indexFD: -1, base: 0, end: 0,
            maxBytes: UInt64(max(maxBytes, 1)), runs: [], writable: true, onDrop: onDrop)
        log.owner = owner
        return log
    }

    /// Creates the directory and both files of a log created by `create`. Caller holds `lock`.
    private func createFiles() throws(JobLogError) {
        if mkdir(directory, 0o777) != 0, errno != EEXIST {
            // The first log in a fresh data directory: create `logs/` too.
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var st = stat()
            guard stat(directory, &st) == 0 else { throw JobLogError(operation: "mkdir", path: directory, errno: errno) }
        }
        let data = try Self.openFile("\(directory)/data", O_RDWR | O_CREAT | O_TRUNC)
        let index: Int32
        do { index = try Self.openFile("\(directory)/index", O_RDWR | O_CREAT | O_TRUNC) } catch {
            Glibc.close(data)
            throw error
        }
        do { try Self.writeHeader(fd: data, base: base, maxBytes: maxBytes, path: "\(directory)/data") } catch {
            Glibc.close(data)
            Glibc.close(index)
            throw error
        }
        if let owner {
            _ = chown(directory, owner.uid, owner.gid)
            _ = fchown(data, owner.uid, owner.gid)
            _ = fchown(index, owner.uid, owner.gid)
        }
        dataFD = data
        indexFD = index
    }

    /// Opens an existing log read-only (a finished job, or after a restart). nil when the job has
    /// no log (it never started, or retention removed it).
    public static func open(dataDirectory: String, id: String) -> JobLog? {
        let dir = directory(dataDirectory: dataDirectory, id: id)
        guard let data = try? openFile("\(dir)/data", O_RDONLY) else { return nil }
        guard let index = try? openFile("\(dir)/index", O_RDONLY) else {
            Glibc.close(data)
            return nil
        }
        var header = [UInt8](repeating: 0, count: Int(headerSize))
        var st = stat()
        guard pread(data, &header, header.count, 0) == header.count, fstat(data, &st) == 0 else {
            Glibc.close(data)
            Glibc.close(index)
            return nil
        }
        let base = header.withUnsafeBytes { $0.load(fromByteOffset: 0, as: UInt64.self) }
        let cap = header.withUnsafeBytes { $0.load(fromByteOffset: 8, as: UInt64.self) }
        let dataEnd = base + UInt64(max(Int64(st.st_size) - Int64(headerSize), 0))
        var runs: [Run] = []
        var entries = [UInt8](repeating: 0, count: 0)
        if fstat(index, &st) == 0, st.st_size > 0 {
            entries = [UInt8](repeating: 0, count: Int(st.st_size))
            let n = pread(index, &entries, entries.count, 0)
            entries = Array(entries.prefix(max(n, 0)))
        }
        var i = 0
        while i + entrySize <= entries.count {
            let stream: LogStream = entries[i] == 2 ? .stderr : .stdout
            var runEnd: UInt64 = 0
            for k in 0..<8 { runEnd |= UInt64(entries[i + 1 + k]) << (8 * UInt64(k)) }
            runs.append(Run(stream: stream, end: min(runEnd, dataEnd)))
            i += entrySize
        }
        // Bytes written to `data` but not yet indexed (a crash between the two writes) are dropped.
        let end = runs.last.map { max($0.end, base) } ?? base
        runs.removeAll { $0.end <= base }
        return JobLog(directory: dir, dataFD: data, indexFD: index, base: base, end: end, maxBytes: max(cap, 1), runs: runs, writable: false)
    }

    // MARK: - Writing

    /// Appends bytes one stream wrote. Drops the oldest bytes past the cap (compacting the files
    /// when they hold twice the cap). Write errors (disk full, I/O error) drop the bytes and count
    /// them (`droppedBytes`); the job goes on, and the next append tries again. Tells `onDrop`
    /// (after releasing the lock) when this append began or ended a run of dropped output.
    public func append(_ bytes: UnsafeRawBufferPointer, stream: LogStream) {
        guard !bytes.isEmpty else { return }
        let change = lock.withLock { () -> JobLogDrop? in
            guard writable else { return nil }
            if dataFD < 0 {
                do { try createFiles() } catch { return drop(bytes.count, "\(error)") }
            }
            var input = bytes
            // Only the newest `maxBytes` of this chunk can survive.
            if UInt64(input.count) > maxBytes {
                let skip = input.count - Int(maxBytes)
                input = UnsafeRawBufferPointer(rebasing: input[skip...])
                reset(base: end + UInt64(skip))
            }
            guard Self.writeAll(dataFD, input, at: off_t(Self.headerSize + end - base)) else {
                return drop(input.count, JobLogError(operation: "write", path: "\(directory)/data", errno: errno).description)
            }
            end += UInt64(input.count)
            if let last = runs.last, last.stream == stream {
                runs[runs.count - 1].end = end
                writeEntry(runs.count - 1)
            } else {
                runs.append(Run(stream: stream, end: end))
                writeEntry(runs.count - 1)
            }
            if end - base > 2 * maxBytes { compact() }
            guard let before = droppedBefore else { return nil }
            droppedBefore = nil
            return .ended(bytes: dropped - before)
        }
        if let change { onDrop?(change) }
    }

    /// Counts `count` bytes that could not be stored; `.started` for the first of a run. Caller
    /// holds `lock`.
    private func drop(_ count: Int, _ error: String) -> JobLogDrop? {
        defer { dropped += UInt64(count) }
        guard droppedBefore == nil else { return nil }
        droppedBefore = dropped
        return .started(error: error)
    }

    /// Closes the files (when the job is terminal); later appends are ignored, reads still work
    /// (they open the data file for the read).
    public func close() {
        lock.withLock {
            writable = false
            if indexFD >= 0 { Glibc.close(indexFD); indexFD = -1 }
            if dataFD >= 0 { Glibc.close(dataFD); dataFD = -1 }
        }
    }

    /// Writes index entry `i` (runs[i]) at its position. Caller holds `lock`.
    private func writeEntry(_ i: Int) {
        var entry = [UInt8](repeating: 0, count: Self.entrySize)
        entry[0] = runs[i].stream == .stderr ? 2 : 1
        for k in 0..<8 { entry[1 + k] = UInt8(truncatingIfNeeded: runs[i].end >> (8 * UInt64(k))) }
        guard indexFD >= 0 else { return }
        _ = entry.withUnsafeBytes { Self.writeAll(indexFD, $0, at: off_t(i * Self.entrySize)) }
    }

    /// Empties both files; the next byte written has logical offset `newBase`. Caller holds `lock`.
    private func reset(base newBase: UInt64) {
        _ = ftruncate(dataFD, off_t(Self.headerSize))
        try? Self.writeHeader(fd: dataFD, base: newBase, maxBytes: maxBytes, path: "\(directory)/data")
        _ = ftruncate(indexFD, 0)
        runs = []
        base = newBase
        end = newBase
    }

    /// Rewrites both files to hold only the kept bytes (atomically, by rename), so disk use
    /// stays under twice the cap. Caller holds `lock`.
    private func compact() {
        let newBase = keptStart
        guard newBase > base else { return }
        let kept = readData(newBase, end)
        let dataPath = "\(directory)/data", indexPath = "\(directory)/index"
        guard let newData = try? Self.openFile(dataPath + ".tmp", O_RDWR | O_CREAT | O_TRUNC) else { return }
        guard let newIndex = try? Self.openFile(indexPath + ".tmp", O_RDWR | O_CREAT | O_TRUNC) else {
            Glibc.close(newData)
            unlink(dataPath + ".tmp")
            return
        }
        try? Self.writeHeader(fd: newData, base: newBase, maxBytes: maxBytes, path: dataPath)
        _ = kept.withUnsafeBytes { Self.writeAll(newData, $0, at: off_t(Self.headerSize)) }
        rename(dataPath + ".tmp", dataPath)
        rename(indexPath + ".tmp", indexPath)
        Glibc.close(dataFD)
        Glibc.close(indexFD)
        dataFD = newData
        indexFD = newIndex
        base = newBase
        runs.removeAll { $0.end <= newBase }
        for i in runs.indices { writeEntry(i) }
    }

    // MARK: - Syscalls

    static func openFile(_ path: String, _ flags: Int32) throws(JobLogError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, 0o644)
            if fd >= 0 { return fd }
            let e = errno
            if e != EINTR { throw JobLogError(operation: "open", path: path, errno: e) }
        }
    }

    static func writeHeader(fd: Int32, base: UInt64, maxBytes: UInt64, path: String) throws(JobLogError) {
        var header = [UInt8](repeating: 0, count: Int(headerSize))
        header.withUnsafeMutableBytes {
            $0.storeBytes(of: base, toByteOffset: 0, as: UInt64.self)
            $0.storeBytes(of: maxBytes, toByteOffset: 8, as: UInt64.self)
        }
        guard header.withUnsafeBytes({ writeAll(fd, $0, at: 0) }) else {
            throw JobLogError(operation: "write", path: path, errno: errno)
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: off_t) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, offset + off_t(done))
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }
}
