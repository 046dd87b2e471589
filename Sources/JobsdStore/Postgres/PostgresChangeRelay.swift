import JobsdAPI
import JobsdMetrics

/// Hands the change log of a PostgreSQL database that several nodes share to the store's observer
/// (`JobStore.observeChanges`), every change once and in `seq` order: this node's commits as they
/// happen (`write`) and other nodes' when this node hears of them (`catchUp`: a NOTIFY on
/// `channel`, the listener's reconnect, the heartbeat's safety poll). Both paths hand over under
/// one lock and only changes after `handedThrough`, reading from the log whatever lies between,
/// so neither can hand a change twice, skip one or hand one out of order.
///
/// Each transaction that logs changes also sends `pg_notify(channel, <its last seq>)`, once,
/// delivered to every listening node when it commits.
///
/// Thread-safe: `lock` is held around each write that may log changes (from its transaction's
/// start to the hand-off) and around each catch-up; `handedThrough` is changed only under `lock`
/// and guarded by `seqLock`, so that a notification already handed over is dismissed without
/// waiting for a write.
final class PostgresChangeRelay: @unchecked Sendable {
    /// NOTIFY channel: a transaction committed changes; payload its last `seq`.
    static let channel = "jobsd_changes"
    /// Changes read from the log per query while catching up.
    static let pageSize = 500

    let observer = ChangeHandlerBox()
    private let lock = PThreadLock()
    private let seqLock = PThreadLock()
    private var handedThrough: Int64

    /// `lastSeq`: the log's last change when the store opened (nothing before it is handed over:
    /// a reader reads those from the store).
    init(lastSeq: Int64) { handedThrough = lastSeq }

    /// Runs `work` in one transaction on `connection`; when it logged changes, the transaction
    /// also notifies `channel`, and after the commit the changes committed before them that were
    /// not handed over yet (other nodes') are read on `connection` and handed over with them. A
    /// failed read of those after the commit is not the write's failure: they are skipped in the
    /// live feed (a reader still finds them from its cursor) and this node's own are handed over.
    func write<T>(on connection: PostgresConnection, _ work: (inout [JobChange]) throws -> T) throws -> T {
        try lock.withLock {
            var changes: [JobChange] = []
            let value = try connection.transaction {
                let value = try work(&changes)
                if let last = changes.last?.seq { _ = try connection.query("SELECT pg_notify($1, $2)", [Self.channel, String(last)]) }
                return value
            }
            guard let first = changes.first?.seq else { return value }
            let after = seqLock.withLock { handedThrough }
            let missed = first > after + 1 ? (try? Self.read(after: after, before: first, limit: Int(first - after), on: connection)) ?? [] : []
            hand(missed + changes)
            return value
        }
    }

    /// True when the change `seq` (a notification's payload) was handed over already.
    func handed(_ seq: Int64) -> Bool { seqLock.withLock { seq <= handedThrough } }

    /// Reads every change committed after the last one handed over, on `connection`, and hands
    /// them over in pages of `pageSize`. Throws the read's error (what was read before is handed
    /// over; the next catch-up goes on from there).
    func catchUp(on connection: PostgresConnection) throws {
        try lock.withLock {
            while true {
                let page = try Self.read(after: seqLock.withLock { handedThrough }, before: nil, limit: Self.pageSize, on: connection)
                hand(page)
                if page.count < Self.pageSize { return }
            }
        }
    }

    /// The logged changes with `seq` > `after` (and < `before`), oldest first, at most `limit`.
    static func read(after: Int64, before: Int64?, limit: Int, on connection: PostgresConnection) throws -> [JobChange] {
        try connection.query(
            "SELECT seq, job_id, state, labels, job FROM job_changes WHERE seq > $1 AND seq < $2 ORDER BY seq LIMIT $3",
            [after, before ?? Int64.max, limit]
        ).rows.map { row in
            JobChange(seq: row.int64(0) ?? 0, jobID: row.string(1) ?? "", state: JobState(rawValue: row.string(2) ?? "") ?? .queued,
                      labels: (try? JSONValue.parse(row.bytes(3)))?.stringMap ?? [:], json: row.string(4) ?? "{}")
        }
    }

    /// Under `lock`: hands the changes after `handedThrough` to the observer.
    private func hand(_ changes: [JobChange]) {
        let fresh = seqLock.withLock {
            let fresh = changes.filter { $0.seq > handedThrough }
            if let last = fresh.last?.seq { handedThrough = last }
            return fresh
        }
        if !fresh.isEmpty { observer.get()?(fresh) }
    }
}
