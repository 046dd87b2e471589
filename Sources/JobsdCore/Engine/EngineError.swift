import JobsdAPI

/// Errors of `JobEngine` calls; each maps to one HTTP status (noted per case).
public enum EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The queue holds `limit` waiting jobs → 429.
    case queueFull(limit: Int)
    /// `shutdown()` was called → 503.
    case shuttingDown
    /// The idempotency key belongs to job `jobID`, submitted with another body → 422.
    case idempotencyMismatch(jobID: String)
    /// No job with this id → 404.
    case notFound(String)
    /// The store failed (disk full, I/O error, closed) → 503.
    case storeUnavailable(String)
    /// The job has not reached this attempt → 404.
    case noSuchAttempt(String, Int)
    /// No group with this id → 404.
    case groupNotFound(String)

    public var description: String {
        switch self {
        case let .queueFull(limit): "the queue is full (\(limit) jobs waiting)"
        case .shuttingDown: "the server is shutting down"
        case let .idempotencyMismatch(id): "the idempotency key was used for job \(id) with a different body"
        case let .notFound(id): "no job \(id)"
        case let .storeUnavailable(why): "the job store is unavailable: \(why)"
        case let .noSuchAttempt(id, attempt): "job \(id) has no attempt \(attempt)"
        case let .groupNotFound(id): "no group \(id)"
        }
    }
}

/// Answer of `JobEngine.submit`.
public enum SubmitResult: Sendable {
    /// A new job was stored (durably) and queued → 201.
    case created(Job)
    /// The idempotency key and body matched a stored job; nothing new was created → 200.
    case existing(Job)

    public var job: Job {
        switch self {
        case let .created(job), let .existing(job): job
        }
    }
}

/// Answer of `JobEngine.cancel`.
public enum CancelResult: Sendable {
    /// The job was queued (now `cancelled`, durably) or was already cancelled → 200.
    case cancelled(Job)
    /// The job was running (now `cancelling`) or already cancelling → 202.
    case cancelling(Job)
    /// The job's outcome was decided before the cancel → 409. `job.state` is that outcome
    /// (`succeeded`, `failed` or `timed_out`) even while leftovers are still being stopped or the
    /// cleanup still runs; then `finishedAt` is still nil and `job(id)` still shows `running`
    /// until the job is terminal.
    case finished(Job)

    public var job: Job {
        switch self {
        case let .cancelled(job), let .cancelling(job), let .finished(job): job
        }
    }
}
