import JobsdAPI
import Logging

/// Jobs' output in PostgreSQL (table `job_output`, schema 4), so that every node reads every
/// job's output: `logs`, `?stream=` and `?follow=true` through any node, also after the node
/// that ran the job stopped. `--data-dir` holds no output then.
///
/// A row is one batch a running job's node stored (`PostgresJobLog`): the bytes of both streams
/// interleaved in arrival order (`data`), the runs of each stream in it (`runs`: stream code,
/// length, …), its logical range (`off` ..< `end_off`) and the oldest byte the cap kept when it
/// was stored (`kept_from`). Rows wholly before `kept_from` are deleted by the batch that moves
/// it, so a job holds at most the cap plus one batch. Rows go with their job: the foreign key
/// deletes them when retention purges the job (`remove` has nothing left to do), and a batch of
/// a job that is gone is refused.
struct PostgresJobLogs: JobLogStore {
    let pool: PostgresPool
    let logger: Logger

    /// Stream codes in `runs`.
    static func code(_ stream: LogStream) -> Int { stream == .stderr ? 2 : 1 }

    static let insertSQL = """
        WITH dropped AS (DELETE FROM job_output WHERE job_id = $1 AND attempt = $7 AND end_off <= $4)
        INSERT INTO job_output (job_id, attempt, off, end_off, kept_from, runs, data)
        VALUES ($1, $7, $2, $3, $4, $5::bigint[], $6::bytea)
        """

    /// The newest row's `kept_from` and `end_off` (one snapshot with the rows: a batch stored
    /// meanwhile is either wholly in the answer or not at all), then every row ending after
    /// `$2`, oldest first.
    static let readSQL = """
        WITH last AS (
            SELECT kept_from, end_off FROM job_output WHERE job_id = $1 AND attempt = $3 ORDER BY end_off DESC LIMIT 1
        )
        SELECT last.kept_from, last.end_off, o.off, o.runs, encode(o.data, 'hex')
        FROM last LEFT JOIN job_output o
            ON o.job_id = $1 AND o.attempt = $3 AND o.end_off > GREATEST($2, last.kept_from)
        ORDER BY o.end_off
        """

    /// The output lives in the database: `owner` has no files to own.
    func create(
        _ id: String, maxBytes: Int, owner: (uid: UInt32, gid: UInt32)?, onReadable: @escaping @Sendable () -> Void,
        onDrop: @escaping @Sendable (JobLogDrop) -> Void
    ) -> any OpenJobLog {
        PostgresJobLog(id: id, maxBytes: maxBytes, logs: self, onReadable: onReadable, onDrop: onDrop)
    }

    /// The database is read on every `read`: nothing to reopen.
    func reopen(_ id: String) -> (any OpenJobLog)? { nil }

    func read(_ id: String, stream: LogStream?, from: UInt64?) async throws -> JobLogSlice {
        let requested = from ?? 0
        return try await pool.run(idempotent: true) { connection in
            let (job, attempt) = Self.key(id)
            let rows = try connection.query(Self.readSQL, [job, Int64(requested), attempt]).rows
            guard let first = rows.first else { return JobLogSlice(bytes: [], truncated: false, next: requested) }
            let kept = UInt64(first.int64(0) ?? 0), end = UInt64(first.int64(1) ?? 0)
            let lower = max(requested, kept)
            let truncated = requested < kept && kept > 0
            guard lower < end else { return JobLogSlice(bytes: [], truncated: truncated, next: max(end, requested)) }
            var bytes: [UInt8] = []
            for row in rows {
                guard let off = row.int64(2).map(UInt64.init) else { continue }
                let data = row.hexBytes(4)
                var runStart = off
                for (code, length) in Self.runs(row.string(3) ?? "{}") {
                    let runEnd = runStart + length
                    defer { runStart = runEnd }
                    guard runEnd > lower, stream == nil || Self.code(stream!) == code else { continue }
                    let a = Int(max(runStart, lower) - off), b = Int(min(runEnd, off + UInt64(data.count)) - off)
                    if a < b { bytes += data[a..<b] }
                }
            }
            return JobLogSlice(bytes: bytes, truncated: truncated, next: end)
        }
    }

    /// The job and the attempt of a log id (`JobLog.attemptID`: `<job id>` for the first
    /// attempt, `<job id>/<n>` for a retry's).
    static func key(_ id: String) -> (job: String, attempt: Int) {
        guard let slash = id.firstIndex(of: "/"), let attempt = Int(id[id.index(after: slash)...]) else { return (id, 1) }
        return (String(id[..<slash]), attempt)
    }

    /// Purged with their jobs (the foreign key cascades).
    func remove(_ ids: [String]) {}

    /// `runs` as PostgreSQL prints a `bigint[]` (`{1,120,2,40}`): (stream code, length) pairs.
    static func runs(_ text: String) -> [(Int, UInt64)] {
        let numbers = text.utf8.split { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }
            .compactMap { Int(String(decoding: $0, as: UTF8.self)) }
        return stride(from: 0, to: numbers.count - 1, by: 2).map { (numbers[$0], UInt64(max(numbers[$0 + 1], 0))) }
    }
}
