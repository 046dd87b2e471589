/// A change in whether a job's log stores its output, as `JobLog.append` reports it: the first
/// bytes it could not store (the file could not be created or written: disk full, I/O error),
/// and the first bytes stored again after such a run. Appends in between report nothing.
public enum JobLogDrop: Sendable, Equatable {
    /// Output is being dropped from now on; `error` names the failed call, file and errno.
    case started(error: String)
    /// Output is stored again; `bytes` were dropped since `started`.
    case ended(bytes: UInt64)
}
