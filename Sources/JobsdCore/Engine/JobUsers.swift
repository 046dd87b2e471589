import Foundation
import Glibc
import JobsdAPI

/// The users jobs may run as (`--job-user`, `--allow-users`), resolved at the engine's start.
/// A job without `user` runs as `defaultUser` (nil: jobsd's own user); a job's `user` must be
/// the default user or one of `allowed`. Switching users needs root: configuring any user
/// without it refuses to start. The job's workdir is owned by its user; so are its log files.
struct JobUsers: Sendable {
    let defaultUser: UserCredentials?
    let allowed: [String: UserCredentials]

    init(configuration: EngineConfiguration) throws(EngineSetupError) {
        let names = Set(configuration.allowedUsers + (configuration.jobUser.map { [$0] } ?? []))
        guard !names.isEmpty else {
            defaultUser = nil
            allowed = [:]
            return
        }
        guard geteuid() == 0 else {
            throw EngineSetupError("--job-user / --allow-users need jobsd to run as root (it runs as uid \(geteuid())): only root can start a process as another user")
        }
        var table: [String: UserCredentials] = [:]
        for name in names.sorted() { table[name] = try UserCredentials.lookup(name) }
        defaultUser = configuration.jobUser.flatMap { table[$0] }
        allowed = table
        // The users reach their workdirs by path ($HOME): the directories above must be
        // traversable (not listable) by others.
        let data = configuration.dataDirectory
        for dir in [data, data + "/work", data + "/logs"] {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var st = stat()
            if stat(dir, &st) == 0 { _ = chmod(dir, (st.st_mode & 0o7777) | 0o011) }
        }
    }

    /// The credentials of a job asking for `user` (nil: the default). Throws when not allowed.
    func credentials(for user: String?) throws(SpawnError) -> UserCredentials? {
        guard let user else { return defaultUser }
        guard let credentials = allowed[user] else { throw .setup("user '\(user)' is not allowed (--allow-users)") }
        return credentials
    }

    /// Gives `path` (a workdir or log directory) and what is directly in it to `user`.
    static func handOver(_ path: String, to user: UserCredentials) {
        _ = chown(path, user.uid, user.gid)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            _ = lchown(path + "/" + name, user.uid, user.gid)
        }
    }
}
