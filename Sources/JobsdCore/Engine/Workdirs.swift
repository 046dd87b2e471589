import Foundation
import Glibc
import JobsdMetrics

/// Jobs' private working directories, `<data>/work/<id>/`: each job's cwd and HOME, created
/// empty with mode 0700 before it starts and removed when it ends.
///
/// Creating and deleting a directory inode per job is the most expensive file system work of a
/// short job (ext4 walks recently deleted inodes on every allocation and discards the freed
/// block), so an ended job's directory that is provably pristine — empty, ours, with the standard
/// mode, no process left — is not deleted but renamed into `<data>/.spare-workdirs/` (at most
/// `spareLimit` of them), and the next job's directory is renamed out of there. Anything else is
/// removed (`rmdir`, recursively only when not empty). The spare directories are deleted at start
/// and when the engine stops.
///
/// Thread-safe: `spares`, `nextSpare` and `standardMode` are guarded by `lock`.
final class Workdirs: @unchecked Sendable {
    let root: String
    let spareDirectory: String
    static let spareLimit = 64

    private let lock = PThreadLock()
    // MARK: guarded by `lock`
    private var spares: [String] = []
    private var nextSpare = 0
    /// The mode `mkdir` gave a fresh workdir (0700, private to jobsd's user, less the umask); nil until one was made.
    private var standardMode: mode_t?
    private var spareDirectoryReady = false

    init(dataDirectory: String) {
        root = "\(dataDirectory)/work"
        spareDirectory = "\(dataDirectory)/.spare-workdirs"
        discardSpares()
    }

    /// Deletes the spare directories (at start, and when the engine stopped: no job is left to
    /// take one). A later `remove` may park new ones again.
    func discardSpares() {
        lock.withLock {
            spares.removeAll()
            spareDirectoryReady = false
        }
        try? FileManager.default.removeItem(atPath: spareDirectory)
    }

    func path(_ id: String) -> String { "\(root)/\(id)" }

    /// Creates the job's directory empty (anything left there from an earlier run is removed
    /// first; missing parents are created) and returns its path.
    @discardableResult
    func create(_ id: String) throws(SpawnError) -> String {
        let path = path(id)
        if let spare = lock.withLock({ spares.popLast() }) {
            if rename(spare, path) == 0 { return path }
            Self.removeTree(spare)
        }
        if mkdir(path, 0o700) != 0 {
            switch errno {
            case EEXIST: Self.removeTree(path)
            case ENOENT: try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            default: break
            }
            guard mkdir(path, 0o700) == 0 else {
                throw .setup("cannot create the job's working directory: \(String(cString: strerror(errno)))")
            }
        }
        if lock.withLock({ standardMode == nil }) {
            var st = stat()
            if lstat(path, &st) == 0 { lock.withLock { standardMode = st.st_mode & 0o7777 } }
        }
        return path
    }

    /// Removes the job's directory with everything in it; a missing one is fine. With `reuse`
    /// (the caller guarantees no process of the job is left), a pristine one becomes a spare.
    func remove(_ id: String, reuse: Bool) {
        let path = path(id)
        if reuse, let spare = reserveSpare(), isPristine(path) {
            if rename(path, spare) == 0 {
                lock.withLock { spares.append(spare) }
                return
            }
        }
        Self.removeTree(path)
    }

    /// A fresh name in the spare directory while there is room (approximate under concurrency).
    private func reserveSpare() -> String? {
        let name: String? = lock.withLock {
            guard spares.count < Self.spareLimit else { return nil }
            nextSpare += 1
            return "\(spareDirectory)/\(nextSpare)"
        }
        guard let name else { return nil }
        if !lock.withLock({ spareDirectoryReady }) {
            guard mkdir(spareDirectory, 0o700) == 0 || errno == EEXIST else { return nil }
            lock.withLock { spareDirectoryReady = true }
        }
        return name
    }

    /// A directory (not a link) owned by us with the standard mode and nothing inside.
    private func isPristine(_ path: String) -> Bool {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == geteuid(),
              let mode = lock.withLock({ standardMode }), st.st_mode & 0o7777 == mode,
              let dir = opendir(path)
        else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { name in
                name[0] == UInt8(ascii: ".") && (name[1] == 0 || (name[1] == UInt8(ascii: ".") && name[2] == 0))
            }
            if !isDot { return false }
        }
        return true
    }

    /// `rmdir`, or the recursive walk when the directory is not empty; a missing one is fine.
    static func removeTree(_ path: String) {
        if rmdir(path) == 0 || errno == ENOENT { return }
        try? FileManager.default.removeItem(atPath: path)
    }
}
