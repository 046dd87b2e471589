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
