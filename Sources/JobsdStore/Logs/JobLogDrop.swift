/// A change in whether a job's log stores its output, reported to the `onDrop` of
/// `JobLogStore.create`: the first bytes it could not store (a file could not be created or
/// written, or the database refused a batch for good), and the first bytes stored again after
/// such a run. Bytes lost in between report nothing more; they are counted in `droppedBytes`.
public enum JobLogDrop: Sendable, Equatable {
    /// Output is being dropped from now on; `error` names the failed call, file and errno.
    case started(error: String)
    /// Output is stored again; `bytes` were dropped since `started`.
    case ended(bytes: UInt64)
}
