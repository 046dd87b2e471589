import JobsdAPI
import JobsdMetrics

/// The engine's shared mutable state. Every field is guarded by `lock` (as are the `var`s of
/// every `LiveJob`). Nothing is awaited while it is held, and no `AsyncCondition` is broadcast
/// under it (their predicates take it).
final class EngineState: @unchecked Sendable {
    let lock = PThreadLock()
    /// Jobs not yet terminal, by id.
    var live: [String: LiveJob] = [:]
    /// FIFO of queued jobs; entries no longer `.queued` (cancelled) are skipped when popped, or
    /// dropped by `cancelledWhileQueued` once they outnumber the queued ones.
    private var queue: [LiveJob] = []
    private var head = 0
    /// Jobs in `.queued` phase.
    var queuedCount = 0
    /// Submissions between the queue-limit check and their insertion.
    var reserved = 0
    /// Jobs that left the queue and are not terminal yet.
    var running = 0
    /// Jobs `submit` is spawning itself (idle engine), not yet handed to the run loop.
    var starting = 0
    /// Jobs `submit` spawned, waiting for the run loop to supervise them.
    var handedOff: [(LiveJob, Result<SpawnedJob, SpawnError>)] = []
    /// The store was read and the queue rebuilt (interrupted jobs may still be recovering).
    var ready = false
    var shuttingDown = false
    /// Shared stores: the claim loop should look for queued jobs now (a submission, a NOTIFY, a
    /// freed slot), not only at the next heartbeat.
    var claimWanted = false
    /// Shared stores: jobs of this node that other nodes rescued, waiting for the run loop to stop
    /// their leftovers and run their cleanup (`recoverInterrupted`).
    var takenOver: [LiveJob] = []
    /// Shared stores: the first heartbeat renewed this node's lease; the claim loop claims only
    /// from then on (a claim by a node without a lease would be rescued at once).
    var leaseHeld = false
    /// Shared stores: the last heartbeat could not reach the database (`isReady` is false until
    /// one does again; running jobs keep running).
    var storeLost = false
    /// The URL this node serves on (`GET /v1/nodes`).
    var address = ""
    /// This engine's start (`GET /v1/nodes`).
    let startedAt = Timestamp.now()

    func enqueue(_ job: LiveJob) {
        queue.append(job)
        queuedCount += 1
    }

    /// Counts a queued job as gone after it was cancelled (its phase left `.queued`). Its entry
    /// stays in the FIFO until popped — unless cancelled entries outnumber the queued ones: then
    /// they are dropped, so a queue that does not move (every slot taken by long jobs) does not
    /// keep every job cancelled out of it (issue 21). Amortised O(1).
    func cancelledWhileQueued() {
        queuedCount -= 1
        let entries = queue.count - head
        guard entries > 64, entries > 2 * queuedCount else { return }
        queue = queue[head...].filter { $0.phase == .queued }
        head = 0
    }

    /// The oldest job still queued, removed from the queue (its phase is left to the caller).
    func popQueued() -> LiveJob? {
        while head < queue.count {
            let job = queue[head]
            head += 1
            if head > 1024, head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            if job.phase == .queued {
                queuedCount -= 1
                return job
            }
        }
        return nil
    }
}
