import Foundation
import Glibc

/// A job's private working directory, `<data>/work/<id>/`: its cwd and HOME.
///
/// Plain `mkdir(2)`/`rmdir(2)` on the common path (one inode created and removed per job); the
/// recursive walk only runs when something is in the way or left inside.
enum Workdir {
    /// Creates it empty (anything left from an earlier run is removed first; missing parents
    /// are created).
    static func create(_ path: String) throws(SpawnError) {
        if mkdir(path, 0o777) == 0 { return }
        switch errno {
        case EEXIST:
            remove(path)
        case ENOENT:
            try? FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        default:
            break
        }
        guard mkdir(path, 0o777) == 0 else {
            throw .setup("cannot create the job's working directory: \(String(cString: strerror(errno)))")
        }
    }

    /// Removes it with everything in it; a missing directory is fine.
    static func remove(_ path: String) {
        if rmdir(path) == 0 || errno == ENOENT { return }
        try? FileManager.default.removeItem(atPath: path)
    }
}
