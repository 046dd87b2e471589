import Dispatch
import JobsdAPI
import JobsdStore

extension JobEngine {
    // MARK: - New jobs

    /// The record of a new job (server defaults applied, timeout capped) and, for a
    /// `delay_seconds`, its monotonic start time (0: none; see `AdmissionQueue`). The
    /// orchestration fields move from the spec to the job: `run_at` (also for a delay), the
    /// concurrency key with its limit (default 1), the retry policy with its defaults, the
    /// priority (default 0), attempt 1.
    /// The job also shows its limits and the user it runs as (the spec's, else `--job-user`,
    /// which the spec then names, so the stored job keeps that user across a restart).
    func newRecord(
        _ spec: JobSpec, groupID: String?, scheduleID: String? = nil, idempotencyKey: String?, fingerprint: String?
    ) -> (JobRecord, startAfter: UInt64) {
        var spec = spec
        spec.timeoutSeconds = min(spec.timeoutSeconds ?? configuration.defaultTimeout, configuration.maxTimeout)
        spec.graceSeconds = spec.graceSeconds ?? configuration.defaultGrace
        spec.user = spec.user ?? users.defaultUser?.name
        if spec.limits?.isEmpty == true { spec.limits = nil }
        let now = AdmissionQueue.Instant.now()
        var job = Job(
            id: JobIDGenerator.shared.next(now: UInt64(max(now.wall.milliseconds, 0))), name: spec.name, labels: spec.labels,
            command: spec.command, state: .queued, createdAt: now.wall, timeoutSeconds: spec.timeoutSeconds!,
            graceSeconds: spec.graceSeconds!, cleanup: CleanupStatus(state: spec.cleanup == nil ? .none : .pending),
            runAt: spec.runAt, concurrencyKey: spec.concurrencyKey,
            concurrencyLimit: spec.concurrencyKey == nil ? nil : spec.concurrencyLimit ?? 1, retry: spec.retry,
            priority: spec.priority ?? 0, groupID: groupID, scheduleID: scheduleID, limits: spec.limits, user: spec.user)
        var startAfter: UInt64 = 0
        if let delay = spec.delaySeconds {
            job.runAt = now.wall.adding(seconds: delay)
            startAfter = now.uptime &+ AdmissionQueue.nanoseconds(delay)
        }
        spec.concurrencyKey = nil
        spec.concurrencyLimit = nil
        spec.runAt = nil
        spec.delaySeconds = nil
        spec.retry = nil
        spec.priority = nil
        return (JobRecord(job: job, spec: spec, idempotencyKey: idempotencyKey, requestFingerprint: fingerprint), startAfter)
    }

    /// A new job's first timeline events: `submitted`, then `scheduled` (with its `run_at`) when
    /// its start time is ahead (`run_at` in the future, or `delay_seconds`).
    static func firstEvents(of job: Job) -> [JobEvent] {
        var events = [JobEvent(.submitted, at: job.createdAt, seq: 1)]
        if let runAt = job.runAt, runAt > job.createdAt {
            events.append(JobEvent(.scheduled, at: job.createdAt, seq: 2, [.init("run_at", .string(runAt.description))]))
        }
        return events
    }

    // MARK: - Scheduled starts

    /// The schedule timer fired: moves the jobs that are due to their key queues, re-arms the
    /// timer for the next one, and wakes the run loop.
    func releaseScheduledJobs() {
        let released: Int = state.lock.withLock {
            state.timer.fired()
            let released = state.admission.releaseDue(now: .now())
            state.rearm()
            return released
        }
        if released > 0 { changes.broadcast() }
    }
}
