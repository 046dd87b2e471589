import JobsdAPI

/// Where a store keeps the jobs' output (CONTRACT.md, "Output"): files under the data dir next to
/// a store one node owns (`JobLogFiles`), the database when several nodes share it
/// (`PostgresJobLogs`), so that any node reads any job's output.
///
/// Offsets are logical everywhere: byte `n` is the n-th byte the job ever wrote (both streams
/// together), whatever the cap dropped since.
public protocol JobLogStore: Sendable {
    /// A fresh, empty, writable log for a job that is starting (replacing any output a run cut
    /// short by a crash left under its id). `maxBytes` is the cap: past it the oldest bytes are
    /// dropped. `onReadable` is called when appended bytes became readable later than `append`
    /// returned (a store that writes in batches calls it after each batch is stored; one that
    /// writes at once never calls it). `onDrop` is called when the log begins dropping output it
    /// cannot store (disk full, I/O error, a batch the database refused) and when it stores output
    /// again (`JobLogDrop`), once each per run of failures, never per chunk; the bytes are counted
    /// in `droppedBytes`. Either may be called on any thread. The log may hold both callbacks as
    /// long as it lives: capture whatever holds the log weakly. `owner`: the uid and gid of the
    /// user the job runs as (`--job-user`), given the log's files where it has files; nil: jobsd's.
    func create(
        _ id: String, maxBytes: Int, owner: (uid: UInt32, gid: UInt32)?, onReadable: @escaping @Sendable () -> Void,
        onDrop: @escaping @Sendable (JobLogDrop) -> Void
    ) -> any OpenJobLog
    /// The log of a job that was running when the server stopped, to keep its size current while
    /// it is recovered; nil when the store reads such logs through `read` only.
    func reopen(_ id: String) -> (any OpenJobLog)?
    /// The kept output of job `id` from logical offset `from` (nil: the oldest kept byte), of one
    /// stream or both interleaved in arrival order; empty when the job has no output (it never
    /// started, wrote nothing, or retention removed it). Throws when the store cannot be read.
    func read(_ id: String, stream: LogStream?, from: UInt64?) async throws -> JobLogSlice
    /// Removes the output of jobs retention swept (a store whose `purge` removes it with the
    /// jobs does nothing here).
    func remove(_ ids: [String])
}

/// The output of one job while it runs: one writer (the job's output pump, or an in-process job)
/// and any number of readers.
public protocol OpenJobLog: AnyObject, Sendable {
    /// Appends bytes one stream wrote, in arrival order. Never blocks on I/O for long and never
    /// suspends: it runs on the output loop's thread. Ignored after `close()`.
    func append(_ bytes: UnsafeRawBufferPointer, stream: LogStream)
    /// As `JobLogStore.read`, for this job.
    func read(stream: LogStream?, from: UInt64?) async throws -> JobLogSlice
    /// Logical offset one past the newest readable byte (it grows when `onReadable` is called,
    /// or at `append` for a store that writes at once).
    var endOffset: UInt64 { get }
    /// Bytes kept for the job so far, at most the cap (the job's `log_bytes`).
    var keptBytes: Int64 { get }
    /// Bytes the job wrote that the log could not store (the job's `log_dropped_bytes`): not the
    /// oldest bytes the cap drops, which are never counted here.
    var droppedBytes: Int64 { get }
    /// Takes no more appends and returns once every byte appended before is readable by any
    /// reader (stored durably, for the database; retried while the database cannot be reached).
    /// Called before the job's final record is stored, so a reader that sees the job terminal
    /// reads all of its output. Not cancellable.
    func close() async
}
