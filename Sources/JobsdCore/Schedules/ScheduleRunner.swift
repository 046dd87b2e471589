import Dispatch
import Foundation
import JobsdAPI
import JobsdMetrics
import JobsdStore
import Logging

/// Runs the schedules (`POST /v1/schedules`): each tick of a schedule submits an ordinary job
/// through the engine, with `schedule_id` set.
///
/// - Timing: one Dispatch timer on the wall clock (`CLOCK_REALTIME`), armed for the earliest
///   `next_run_at`; no polling loop. When it fires, a pass reads the schedules from the store and
///   compares each one's `next_run_at` with the current time: a due schedule runs, one whose
///   next tick computed from now comes earlier than the stored one (the wall clock stepped back)
///   is re-aimed, and the timer is re-armed. On a shared store (PostgreSQL) a pass also runs every
///   `resyncSeconds`, so schedules created on other nodes are seen.
/// - No bursts: a due schedule runs once, however many ticks passed since `next_run_at` (jobsd was
///   down, the clock jumped, the machine slept): the one catch-up run; its next tick is the first
///   one after the current time.
/// - Each tick runs once: `ScheduleChange.advance` claims it (moves `next_run_at` only while it
///   still holds the tick) before the job is submitted; on a shared store only one node's claim
///   succeeds. A node that crashes between the claim and the submission loses that tick.
/// - Overlap, when the schedule's last job is not terminal: `skip` submits nothing; `queue`
///   submits a job that waits for the previous one (concurrency key `schedule/<id>`, limit 1,
///   unless the job names a key); `cancel_previous` cancels the previous job (its error says
///   which schedule superseded it), waits for it to end (at most its grace period + 5 s), then
///   submits.
/// - Cancellation: `run()` returns when its task is cancelled (the server's shutdown); a pass in
///   progress finishes its current schedule's submission first. Nothing needs cleaning up: the
///   timer is disarmed, state is in the store.
///
/// Thread-safe: `wanted` is guarded by `lock`; everything else is immutable or thread-safe.
public final class ScheduleRunner: @unchecked Sendable {
    let engine: JobEngine
    let store: any ScheduleStore
    let logger: Logger
    /// How often a pass runs anyway (shared stores); nil: only at ticks and changes.
    let resyncSeconds: Double?
    /// Armed for the earliest `next_run_at` on the wall clock.
    private let timer = ScheduleTimer()
    private let wakes = AsyncCondition()
    private let lock = PThreadLock()
    /// A pass is wanted (timer fired, a schedule changed); guarded by `lock`.
    private var wanted = true

    public init(engine: JobEngine, store: any ScheduleStore, resyncSeconds: Double?, logger: Logger) {
        self.engine = engine
        self.store = store
        self.resyncSeconds = resyncSeconds
        self.logger = logger
        timer.onFire { [weak self] in self?.wake() }
    }

    /// Passes until the calling task is cancelled; the first once the engine is ready (which
    /// runs the one catch-up of every schedule that was due while jobsd was down).
    public func run() async {
        await engine.waitUntilReady()
        while !Task.isCancelled {
            lock.withLock { wanted = false }
            await pass()
            await wakes.wait(timeout: nil) { [self] in lock.withLock { wanted } }
        }
        timer.arm(atWall: nil)
    }

    /// Asks for a pass now (a schedule was created, resumed or deleted).
    func wake() {
        lock.withLock { wanted = true }
        wakes.broadcast()
    }

    // MARK: - API

    /// Stores a new schedule (its first tick computed from now) and arms for it. The caller has
    /// validated every field (`SchedulePlan` for cron and time zone).
    public func create(
        name: String, plan: SchedulePlan, cron: String, timezone: String, job: JobSpec, overlap: ScheduleOverlap, paused: Bool
    ) async throws(EngineError) -> Schedule {
        let now = Timestamp.now()
        let schedule = Schedule(
            id: JobIDGenerator.shared.next(now: UInt64(max(now.milliseconds, 0))), name: name, cron: cron, timezone: timezone, job: job,
            overlap: overlap, paused: paused, createdAt: now, nextRunAt: plan.next(after: now) ?? now)
        do { _ = try await store.changeSchedule(.insert(schedule)) } catch { throw .storeUnavailable("\(error)") }
        logger.info("schedule created", metadata: ["schedule.id": "\(schedule.id)", "cron": "\(cron)", "timezone": "\(timezone)"])
        wake()
        return schedule
    }

    /// Every schedule, oldest first.
    public func list() async throws(EngineError) -> [Schedule] {
        do { return try await store.schedules() } catch { throw .storeUnavailable("\(error)") }
    }

    public func schedule(_ id: String) async throws(EngineError) -> Schedule? {
        do { return try await store.schedule(id) } catch { throw .storeUnavailable("\(error)") }
    }

    /// Deletes the schedule and returns it as it was; nil for an unknown id. Jobs it already
    /// submitted are not touched (they run, or wait, as any job).
    public func delete(_ id: String) async throws(EngineError) -> Schedule? {
        do {
            guard let schedule = try await store.schedule(id), try await store.changeSchedule(.delete(id: id)) else { return nil }
            logger.info("schedule deleted", metadata: ["schedule.id": "\(id)"])
            wake()
            return schedule
        } catch { throw .storeUnavailable("\(error)") }
    }

    /// Pauses (no ticks) or resumes the schedule; idempotent. Resuming computes the next tick
    /// from now: ticks that passed while paused are not run. nil for an unknown id.
    public func setPaused(_ id: String, _ paused: Bool) async throws(EngineError) -> Schedule? {
        do {
            guard var schedule = try await store.schedule(id) else { return nil }
            guard schedule.paused != paused else { return schedule }
            let now = Timestamp.now()
            let next = paused ? (schedule.nextRunAt ?? now) : (try? SchedulePlan(cron: schedule.cron, timezone: schedule.timezone))?.next(after: now) ?? now
            guard try await store.changeSchedule(.setPaused(id: id, paused: paused, nextRunAt: next)) else { return nil }
            schedule.paused = paused
            schedule.nextRunAt = next
            logger.info(paused ? "schedule paused" : "schedule resumed", metadata: ["schedule.id": "\(id)"])
            wake()
            return schedule
        } catch { throw .storeUnavailable("\(error)") }
    }

    // MARK: - Passes

    /// Runs every due schedule once, re-aims those the wall clock stepped back over, and arms
    /// the timer for the earliest next tick.
    private func pass() async {
        let now = Timestamp.now()
        let schedules: [Schedule]
        do { schedules = try await store.schedules() } catch {
            logger.warning("schedules: cannot read the store; retrying in 5 s", metadata: ["error": "\(error)"])
            timer.arm(atWall: now.adding(seconds: 5))
            return
        }
        var earliest = resyncSeconds.map { now.adding(seconds: $0) }
        for schedule in schedules where !schedule.paused {
            guard let stored = schedule.nextRunAt, let plan = try? SchedulePlan(cron: schedule.cron, timezone: schedule.timezone),
                  let next = plan.next(after: now)
            else { continue }
            var armFor = stored
            if stored <= now {
                armFor = next
                if await claim(schedule, stored, next: next, ranAt: now) { await runOnce(schedule, at: now) }
            } else if next < stored {
                armFor = next
                logger.notice("schedule: the wall clock stepped back; next tick re-computed", metadata: [
                    "schedule.id": "\(schedule.id)", "was": "\(stored)", "next_run_at": "\(next)",
                ])
                _ = await claim(schedule, stored, next: next, ranAt: nil)
            }
            earliest = min(earliest ?? armFor, armFor)
        }
        timer.arm(atWall: earliest)
    }

    private func claim(_ schedule: Schedule, _ expected: Timestamp, next: Timestamp, ranAt: Timestamp?) async -> Bool {
        do {
            return try await store.changeSchedule(.advance(id: schedule.id, expected: expected, next: next, ranAt: ranAt))
        } catch {
            logger.warning("schedule: cannot claim its tick", metadata: ["schedule.id": "\(schedule.id)", "error": "\(error)"])
            return false
        }
    }

    /// One run of a claimed tick, by the schedule's overlap rule.
    private func runOnce(_ schedule: Schedule, at now: Timestamp) async {
        var spec = schedule.job
        if let last = schedule.lastJobID, let previous = try? await engine.job(last), !previous.state.isTerminal {
            switch schedule.overlap {
            case .skip:
                logger.info("schedule: tick skipped, the previous run is still going", metadata: [
                    "schedule.id": "\(schedule.id)", "job.id": "\(last)",
                ])
                return
            case .cancelPrevious:
                let error = "cancelled: superseded by the next run of schedule \(schedule.id)"
                _ = try? await engine.cancel(last, reason: "schedule", error: error)
                _ = try? await engine.wait(last, timeout: min(previous.graceSeconds + 5, 65))
            case .queue:
                break
            }
        }
        if schedule.overlap == .queue, spec.concurrencyKey == nil {
            spec.concurrencyKey = "schedule/\(schedule.id)"
            spec.concurrencyLimit = 1
        }
        do {
            let job = try await engine.submit(spec, scheduleID: schedule.id).job
            _ = try await store.changeSchedule(.recordRun(id: schedule.id, jobID: job.id))
            logger.info("schedule: run submitted", metadata: ["schedule.id": "\(schedule.id)", "job.id": "\(job.id)"])
        } catch {
            logger.warning("schedule: run not submitted", metadata: ["schedule.id": "\(schedule.id)", "error": "\(error)"])
        }
    }
}
