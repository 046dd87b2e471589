import Dispatch
import JobsdAPI
import JobsdStore

/// A job the engine holds in memory from submission (or recovery) until it is terminal.
///
/// Every `var` is guarded by the engine's `EngineState.lock`; `watch` and `changes` have their own.
final class LiveJob: @unchecked Sendable, HeapIndexed {
    enum Phase {
        /// Waiting in the queue.
        case queued
        /// Cancelled while queued; the terminal record is being stored.
        case cancellingQueued
        /// Left the queue: spawning, running, being stopped, or in cleanup.
        case running
        /// Was `running`/`cancelling` when the server stopped; its outcome is decided (`failed` or
        /// `cancelled`) and its leftovers are being stopped and its cleanup run, in the background.
        case recovering
        /// Terminal and stored; no longer in the engine's table.
        case finished
    }

    var record: JobRecord
    var phase: Phase
    /// The decided outcome, set once by whichever is recorded first: the main process's exit,
    /// the deadline, a cancel (or shutdown), or a spawn failure.
    var outcome: Outcome?
    /// Open while the job runs (nil while queued).
    var log: (any OpenJobLog)?
    /// The timeout's timer, cancelled once the outcome is decided otherwise or the tree is gone.
    var deadline: Deadlines.Token?
    /// Writes of this job's record are numbered when their snapshot is taken (`issued`) and go to
    /// the store strictly in that order (`done`: the last one finished), so an older snapshot
    /// never overwrites a newer one (see `JobEngine.storeInTurn`).
    var writesIssued: UInt64 = 0
    var writesDone: UInt64 = 0
    /// The number of the write storing `cancelling` (with `cancel_requested_at`); 0: none yet.
    var cancelWrite: UInt64 = 0
    /// Broadcast when `writesDone` grows.
    let writeTurns = AsyncCondition()
    /// The main process's exit and stop requests.
    let watch = ProcessWatch()
    /// Broadcast when output grows and when the job becomes terminal (or, retried, is replaced
    /// in the engine's table by its next attempt: `phase` is `.finished` then too).
    let changes = AsyncCondition()
    /// Monotonic instants (`MonotonicInstant`) for the duration histograms: submission (nil for a
    /// job recovered from the store: its queue wait uses the stored wall-clock times), start, and
    /// the first cancel request.
    let submittedAt: MonotonicInstant?
    var startedAt: MonotonicInstant?
    var cancelRequestedAt: MonotonicInstant?
    /// Timeline events noted but not yet stored (or being stored), oldest first; each write of the
    /// record takes those noted since the previous one (`eventsTaken`), and they leave this list
    /// once stored (see `JobEngine.note`).
    var events: [JobEvent] = []
    /// The events of writes that were superseded before the store took them (see
    /// `JobEngine.storeInTurn`): the next writes of the record carry them until one is stored.
    var carriedEvents: [JobEvent] = []
    /// The `seq` of the job's last event, stored or not.
    var lastEventSeq: Int
    /// The `seq` of the last event a write has taken.
    var eventsTaken: Int
    /// Position in the `AdmissionQueue` heap holding it while queued.
    var heapIndex = -1
    /// While scheduled: the monotonic time (uptime ns) it may start; 0: may start now.
    var startAfter: UInt64 = 0
    /// The job's place among the jobs that may start (`AdmissionQueue.rank`); set when queued.
    var rank: Int64 = 0
    /// Its `run_at` is a wall-clock promise: checked against the wall clock too when due.
    var wallBound = false
    /// The record that ends the job's stay in the engine (terminal, or queued again for its next
    /// attempt), from when its write is issued until the job leaves the table.
    var ending: JobRecord?
    /// The store committed `ending` (seen by `JobEngine.committed`, before the store publishes
    /// the change): from then on the job shows as `ending` (`currentJob`), so that nothing a
    /// client learns from the change feed (`GET /v1/events`, webhooks) is newer than what it
    /// reads back.
    var endCommitted = false

    /// `lastEventSeq`: the job's last stored event (1: only `submitted`, as for a job this node
    /// claimed from a shared store).
    init(record: JobRecord, phase: Phase, submittedAt: MonotonicInstant? = nil, lastEventSeq: Int = 1) {
        self.record = record
        self.phase = phase
        self.submittedAt = submittedAt
        self.lastEventSeq = lastEventSeq
        eventsTaken = lastEventSeq
    }

    /// Nanoseconds from submission to start: monotonic when this process saw both, from the stored
    /// wall-clock times (milliseconds) for a job recovered from the store or claimed from another
    /// node's submission. Caller holds the engine lock.
    var queueWaitNanoseconds: Int64 {
        if let submittedAt, let startedAt { return submittedAt.nanoseconds(until: startedAt) }
        return max(0, (record.job.startedAt ?? .now()).milliseconds - record.job.createdAt.milliseconds) * 1_000_000
    }

    /// The job as the API shows it now: its stored end once that is committed. Caller holds the
    /// engine lock.
    var currentJob: Job {
        if endCommitted, let ending { return ending.job }
        var job = record.job
        if let log {
            job.logBytes = log.keptBytes
            // A log reopened after a restart counts from 0: the stored total stays.
            job.logDroppedBytes = max(job.logDroppedBytes, log.droppedBytes)
        }
        return job
    }
}

/// How a job ends, decided before its processes are gone and its cleanup has run.
struct Outcome: Sendable, Equatable {
    var state: JobState
    var error: String?

    static let cancelled = Outcome(state: .cancelled)
    static let timedOut = Outcome(state: .timedOut)
    static let interrupted = "interrupted: the server stopped while this job ran"
    static let didNotStop = "did not stop after cancellation"

    /// The error of a job cancelled because a job of its group (fail_fast) failed or timed out.
    static func siblingFailed(_ id: String) -> String { "cancelled: job \(id) of its group failed" }

    /// Exit 0 → succeeded; any other exit, or a signal jobsd did not send → failed.
    static func natural(_ status: ExitStatus) -> Outcome {
        Outcome(state: status.exitCode == 0 ? .succeeded : .failed)
    }
}
