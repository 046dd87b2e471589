import JobsdAPI
import JobsdMetrics

/// The engine's shared mutable state. Every field is guarded by `lock` (as are the `var`s of
/// every `LiveJob`). Nothing is awaited while it is held, and no `AsyncCondition` is broadcast
/// under it (their predicates take it).
final class EngineState: @unchecked Sendable {
    let lock = PThreadLock()
    /// Jobs not yet terminal, by id.
    var live: [String: LiveJob] = [:]
    /// Queued jobs: scheduled, or waiting for a slot (of the engine, and of their key).
    let admission = AdmissionQueue()
    /// Armed for the earliest scheduled job (`rearm`).
    let timer = ScheduleTimer()
    /// Groups not yet terminal, by id.
    var groups: [String: LiveGroup] = [:]
    /// Jobs in `.queued` phase.
    var queuedCount: Int { admission.count }
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
    /// Shared stores: a heartbeat found running jobs of silent nodes; `rescueLoop` rescues them.
    var rescueWanted = false
    /// Shared stores: attempts of this node that other nodes rescued and that no longer run here,
    /// waiting for the run loop to stop their leftovers and run their cleanup
    /// (`finishLostAttempt`); they are not in `live`.
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

    /// Whether `n` more jobs fit in a queue of `limit` waiting jobs (counting submissions on
    /// their way in).
    func hasRoom(for n: Int, limit: Int) -> Bool {
        queuedCount + reserved + n <= limit
    }

    func enqueue(_ job: LiveJob) {
        admission.add(job, now: .now())
        rearm()
    }

    /// Takes a queued job out of the queue (cancelled while queued).
    func dequeue(_ job: LiveJob) {
        admission.remove(job)
        rearm()
    }

    /// Arms the schedule timer for the earliest scheduled job.
    func rearm() {
        timer.arm(at: admission.nextWake)
    }

    /// The oldest job that may start now (its key has a free slot), removed from the queue (its
    /// phase is left to the caller).
    func popQueued() -> LiveJob? {
        admission.popStartable()
    }
}
