import Foundation

/// The environment and executable lookup of job processes.
enum JobEnvironment {
    static let basePATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Base (PATH, HOME = workdir, LANG; USER and LOGNAME when it runs as `runAs`) + the user's
    /// env + `JOBSD_JOB_ID` (which the user cannot override).
    static func forJob(id: String, workdir: String, user: [String: String], runAs: String? = nil) -> [String: String] {
        var env = ["PATH": basePATH, "HOME": workdir, "LANG": "C.UTF-8"]
        if let runAs {
            env["USER"] = runAs
            env["LOGNAME"] = runAs
        }
        env.merge(user) { _, new in new }
        env["JOBSD_JOB_ID"] = id
        return env
    }

    static var current: [String: String] { ProcessInfo.processInfo.environment }

    /// The executable for `name`: itself when it contains a `/`, else the first executable
    /// regular file of that name on `path`.
    static func resolve(_ name: String, path: String?) throws(SpawnError) -> String {
        guard !name.isEmpty else { throw .commandNotFound(name) }
        if name.contains("/") { return name }
        for dir in (path ?? basePATH).split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + name
            var st = stat()
            if stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw .commandNotFound(name)
    }
}
