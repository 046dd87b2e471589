import JobsdAPI
import JobsdMetrics

/// The encoded JSON of terminal jobs, which hardly change again (JobEngine stores the final
/// record before anyone sees the terminal state), so `GET /v1/jobs/{id}` of a finished job does
/// not re-encode it on every request. The one change a terminal job still sees: a job another
/// node rescued is `failed` with `cleanup.state` `pending` until its old node ran the cleanup and
/// stored the cleanup's outcome (CONTRACT.md, "Several nodes on PostgreSQL").
///
/// Only consulted after the engine returned the job itself (`JobEngine.cachedJob`): a job the
/// retention sweep purged is no longer returned there, so it 404s at once even while its body is
/// still here. An entry is used only when its `finished_at` and `cleanup` match the job's.
/// Bounded: past `capacity` entries the whole map is dropped (a refill costs one encoding each).
final class TerminalJobBodies: @unchecked Sendable {
    let capacity: Int
    // `lock` guards `bodies`.
    private let lock = PThreadLock()
    private var bodies: [String: (finishedAt: Timestamp?, cleanup: CleanupStatus, json: [UInt8])] = [:]

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// `job`'s JSON, from the map when it is terminal and already encoded.
    func json(of job: Job) -> [UInt8] {
        guard job.state.isTerminal else { return Array(job.json.utf8) }
        if let hit = lock.withLock({ bodies[job.id] }), hit.finishedAt == job.finishedAt, hit.cleanup == job.cleanup { return hit.json }
        let json = Array(job.json.utf8)
        lock.withLock {
            if bodies.count >= capacity { bodies.removeAll() }
            bodies[job.id] = (job.finishedAt, job.cleanup, json)
        }
        return json
    }
}
