import Foundation

/// A job's private working directory, `<data>/work/<id>/`: its cwd and HOME.
enum Workdir {
    /// Creates it empty (anything left from an earlier run is removed first).
    static func create(_ path: String) throws(SpawnError) {
        remove(path)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .setup("cannot create the job's working directory: \(error.localizedDescription)")
        }
    }

    /// Removes it with everything in it; a missing directory is fine.
    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
