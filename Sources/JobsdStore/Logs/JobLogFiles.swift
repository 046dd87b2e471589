import JobsdAPI

/// Jobs' output in files under `<dataDirectory>/logs/<id>/` (`JobLog`): the log store next to
/// SQLite and the in-memory store, which one node owns.
public struct JobLogFiles: JobLogStore {
    public let dataDirectory: String

    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }

    /// File logs are readable as soon as `append` returns: `onReadable` is never called.
    public func create(
        _ id: String, maxBytes: Int, owner: (uid: UInt32, gid: UInt32)?, onReadable: @escaping @Sendable () -> Void,
        onDrop: @escaping @Sendable (JobLogDrop) -> Void
    ) -> any OpenJobLog {
        JobLog.create(dataDirectory: dataDirectory, id: id, maxBytes: maxBytes, owner: owner, onDrop: onDrop)
    }

    public func reopen(_ id: String) -> (any OpenJobLog)? { JobLog.open(dataDirectory: dataDirectory, id: id) }

    public func read(_ id: String, stream: LogStream?, from: UInt64?) -> JobLogSlice {
        guard let log = JobLog.open(dataDirectory: dataDirectory, id: id) else {
            return JobLogSlice(bytes: [], truncated: false, next: from ?? 0)
        }
        return log.read(stream: stream, from: from)
    }

    public func remove(_ ids: [String]) {
        for id in ids { JobLog.remove(dataDirectory: dataDirectory, id: id) }
    }
}
