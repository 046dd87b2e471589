import Glibc

/// A user jobs may run as (`--job-user`, `--allow-users`), resolved once at the engine's start:
/// its uid, primary gid and supplementary groups, as the child sets them before exec.
public struct UserCredentials: Sendable, Equatable {
    public let name: String
    public let uid: UInt32
    public let gid: UInt32
    public let groups: [UInt32]

    /// Looks `name` up in the user database (getpwnam_r, getgrouplist). Throws a sentence naming it
    /// when there is no such user.
    static func lookup(_ name: String) throws(EngineSetupError) -> UserCredentials {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc = getpwnam_r(name, &entry, &buffer, buffer.count, &result)
        guard rc == 0, result != nil else { throw .init("no user named '\(name)' (--job-user / --allow-users)") }
        let (uid, gid) = (entry.pw_uid, entry.pw_gid)
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, gid, &groups, &count)
        }
        return UserCredentials(name: name, uid: uid, gid: gid, groups: Array(groups.prefix(Int(max(0, count)))))
    }
}

/// Why the engine cannot start with its configuration (a user that does not exist, jobs users
/// without root), in one sentence.
public struct EngineSetupError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
