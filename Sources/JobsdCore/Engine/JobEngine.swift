import CoreMetrics
import Dispatch
import Foundation
import JobsdAPI
import JobsdMetrics
import JobsdStore
import Logging

/// The job engine: queue, scheduler, process supervision and guaranteed cleanup
/// (CONTRACT.md: Jobs, States, Cancelling, Guaranteed cleanup, Durability, Shutdown).
///
/// - Every job runs as a child task of the task group inside `run()`, never a detached task.
/// - The state machine lives in `JobState.canMove(to:)`; a terminal state is stored durably
///   (`JobStore.update`) before any call reports it, and never changes again.
/// - Timeout: the deadline counts from the start; when it passes the job's processes get the
///   `SignalLadder` (SIGTERM, `grace_seconds`, SIGKILL, sweep) and the job ends `timed_out`.
/// - Cancel: a queued job becomes `cancelled` at once and never runs (cleanup `none`); a running
///   one becomes `cancelling`, gets the ladder, then its cleanup, then `cancelled`.
/// - Whatever ends a job, afterwards and exactly once: the whole process tree is gone (every
///   process in the job's cgroup, or below its subreaper: see `containmentMethod`), the output
///   pipes are drained and closed,
///   the user's cleanup command runs (its own timeout and ladder, shielded from cancellation),
///   the workdir is removed, and the final record is stored; only then is the job terminal.
/// - Shutdown and cancellation of `run()`'s task are described on `shutdown()` and `run()`.
///
/// Thread-safe; shared state lives in `EngineState` behind one lock.
public final class JobEngine: Sendable {
    let configuration: EngineConfiguration
    let store: any JobStore
    let metrics: EngineMetrics
    let logger: Logger
    let state = EngineState()
    /// Broadcast when scheduling, readiness or shutdown may have changed.
    let changes = AsyncCondition()
    let kinds = InProcessKinds()
    let workdirs: Workdirs
    /// Where the jobs' output is kept: the store's choice (files in the data dir, or the database
    /// when several nodes share it).
    let logs: any JobLogStore
    /// Whether the store takes writes; see `storeDurably`.
    let storeHealth: StoreHealth
    /// Every committed change of a job's state, for `GET /v1/events` (see `changes(after:limit:)`).
    public let changeFeed = ChangeFeed()
    /// The store as shared by several nodes (PostgreSQL), else nil: then every queued job in the
    /// store is this node's, and the in-memory queue is the whole queue.
    let shared: (any SharedJobStore)?
    /// How the jobs' processes are contained, chosen once here (`EngineConfiguration.containment`).
    let containment: Containment

    /// The users jobs may run as (`jobUser`, `allowedUsers`).
    let users: JobUsers

    /// Throws when `configuration.containment` is `.cgroup` and no cgroup v2 directory is
    /// writable here (`.auto` then falls back to `.proc`), and when a job user is configured that
    /// does not exist or jobsd is not root.
    ///
    /// - Parameter metrics: the swift-metrics backend the engine's series go to (names, help
    ///   texts and buckets: `MetricFamily`): the server passes a Prometheus registry of its own;
    ///   an embedder passes theirs, or `MetricsSystem.factory` for the process-global one set by
    ///   `MetricsSystem.bootstrap`. Taking it as a parameter rather than reading the global keeps
    ///   several engines in one process (the tests) apart.
    public init(configuration: EngineConfiguration, store: any JobStore, metrics: any MetricsFactory, logger: Logger) throws(EngineSetupError) {
        do { containment = try Containment.choose(configuration.containment, dataDirectory: configuration.dataDirectory) } catch {
            throw EngineSetupError(error.description)
        }
        users = try JobUsers(configuration: configuration)
        if let tree = containment.cgroups {
            StaleCgroupRoots.reclaimInBackground(beside: tree, v1Bases: Array(Set(ResourceControl.v1Hierarchies().values)), logger: logger)
        }
        self.configuration = configuration
        self.store = store
        self.metrics = EngineMetrics(metrics)
        Meter(label: MetricFamily.containment.name, dimensions: [("method", containment.method.rawValue)], factory: metrics).set(1)
        self.logger = logger
        workdirs = Workdirs(dataDirectory: configuration.dataDirectory)
        logs = store.logStore(dataDirectory: configuration.dataDirectory)
        storeHealth = StoreHealth(metrics: metrics, logger: logger) { [changes] in changes.broadcast() }
        shared = store as? any SharedJobStore
        state.address = configuration.advertiseURL ?? ""
        state.admission.agingMilliseconds = Int64((configuration.priorityAging * 1000).rounded())
        _ = Reaper.shared  // become a child subreaper before any job starts
        _ = OutputLoop.shared
        state.timer.onFire { [weak self] in self?.releaseScheduledJobs() }
        // Every commit is seen by the engine before its changes reach a reader (see `committed`).
        store.observeChanges { [weak self, changeFeed] changes in
            self?.committed(changes)
            changeFeed.publish(changes)
        }
    }

    /// How every process of a job is found, signalled and waited for: `.cgroup` (a cgroup v2 per
    /// job: nothing a process does takes it out) or `.proc` (a per-job subreaper: orphans of the
    /// job stay below it). Chosen at init, fixed for the engine's life.
    public var containmentMethod: ContainmentMethod { containment.method }

    /// The cgroup root of this engine's jobs, or why cgroups are not used (for logs and `/readyz`).
    public var containmentDetail: String { containment.detail }

    /// How each kind of job limit is enforced here; a kind missing cannot be (see
    /// `limitUnavailable`). Fixed for the engine's life.
    public var limitMechanisms: [JobLimits.Kind: LimitMechanism] { containment.resources.mechanisms }

    /// Why `kind` cannot be enforced here, in one sentence; nil when it can.
    public func limitUnavailable(_ kind: JobLimits.Kind) -> String? {
        containment.resources.mechanisms[kind] == nil ? containment.resources.unavailable[kind] ?? "no mechanism enforces it here" : nil
    }

    /// Kills whatever is left in the cgroups of a jobsd on `dataDirectory` and removes them (v2
    /// and v1, the engine's roots included). For a data directory that is being deleted after
    /// its jobsd was killed with SIGKILL (tests): a jobsd that starts again on it sweeps them
    /// itself, a stopped one leaves none. Blocks until the cgroups are empty (at most about a
    /// second each).
    public static func discardCgroups(dataDirectory: String) {
        ResourceControl.discardAll(dataDirectory: dataDirectory)
    }

    /// The user of jobs that name none (`--job-user`); nil: jobsd's own.
    public var jobUser: String? { users.defaultUser?.name }

    /// Every user a job may name in `user` (`--job-user` and `--allow-users`), sorted.
    public var allowedUsers: [String] { users.allowed.keys.sorted() }

    /// False until the store was read and the queue rebuilt (jobs interrupted by the previous stop
    /// may still be recovering in the background), from the first `shutdown()` on, and on a shared
    /// store while the last heartbeat could not reach the database.
    public var isReady: Bool { state.lock.withLock { state.ready && !state.shuttingDown && !state.storeLost } }

    /// The store fault in force: the error of the first write the store refused, until a write
    /// succeeds again (`/readyz` answers 503 meanwhile); nil while the store takes writes.
    public var storeFault: String? { storeHealth.currentFault }

    /// Suspends until the store was read and the engine accepts work (or shutdown began), or
    /// the calling task is cancelled.
    public func waitUntilReady() async {
        await changes.wait(timeout: nil) { [self] in state.lock.withLock { state.ready || state.shuttingDown } }
    }

    // MARK: - Submitting

    /// Stores the job durably (`store.insert`) and queues it (scheduled when `run_at` or
    /// `delay_seconds` is ahead; waiting behind earlier jobs of its concurrency key); on an idle
    /// engine (no older job that may start, a free slot) it spawns the job's process itself before
    /// returning, and the run loop then supervises it. nil `timeoutSeconds`/`graceSeconds` take the configured defaults; timeouts
    /// are capped at `maxTimeout`.
    ///
    /// On a shared store (several nodes) the job is not queued here: it waits in the store until a
    /// node with a free slot claims it (this one first, when it has one).
    ///
    /// Idempotency: the same key with the same `fingerprint` returns `.existing` with that job
    /// (whatever its state now); with another fingerprint throws `.idempotencyMismatch`.
    /// Throws `.shuttingDown` after `shutdown()`, `.queueFull` when `queueLimit` jobs wait,
    /// `.storeUnavailable` when the insert failed (nothing was queued).
    ///
    /// `scheduleID`: the schedule whose tick submits the job (`ScheduleRunner`), shown as the
    /// job's `schedule_id`.
    public func submit(
        _ spec: JobSpec, idempotencyKey: String? = nil, fingerprint: String? = nil, scheduleID: String? = nil
    ) async throws(EngineError) -> SubmitResult {
        let refusal: EngineError? = state.lock.withLock {
            if state.shuttingDown { return .shuttingDown }
            if !state.hasRoom(for: 1, limit: configuration.queueLimit) { return .queueFull(limit: configuration.queueLimit) }
            state.reserved += 1
            return nil
        }
        if let refusal { throw refusal }
        var inserted = false
        defer {
            if !inserted { state.lock.withLock { state.reserved -= 1 } }
        }

        let (record, startAfter) = newRecord(spec, groupID: nil, scheduleID: scheduleID, idempotencyKey: idempotencyKey, fingerprint: fingerprint)
        let job = record.job, submittedAt = MonotonicInstant.now()

        let result: InsertResult
        let events = Self.firstEvents(of: job)
        do { result = try await writeOnce("new job") { try await store.insert(record, events: events) } } catch { throw .storeUnavailable("\(error)") }
        switch result {
        case let .existing(existing):
            guard existing.requestFingerprint == fingerprint else { throw .idempotencyMismatch(jobID: existing.id) }
            let current = state.lock.withLock { state.live[existing.id]?.currentJob }
            return .existing(current ?? existing.job)
        case .inserted:
            inserted = true
            if let shared {
                await queuedInShared(shared, job)
                return .created(job)
            }
            let live = LiveJob(record: record, phase: .queued, submittedAt: submittedAt, lastEventSeq: events.count)
            live.startAfter = startAfter
            let startNow: Bool = state.lock.withLock {
                state.reserved -= 1
                state.live[job.id] = live
                state.enqueue(live)
                return startsAtOnce(live)
            }
            metrics.submitted.increment()
            metrics.moved(from: nil, to: .queued)
            logger.info("job submitted", metadata: ["job.id": "\(job.id)", "command": "\(job.command)"])
            if startNow {
                metrics.moved(from: .queued, to: .running)
                let spawned = Result { () throws(SpawnError) in try spawnJob(live, record: record) }
                state.lock.withLock {
                    state.starting -= 1
                    state.handedOff.append((live, spawned))
                }
            }
            changes.broadcast()
            return .created(job)
        }
    }

    /// True while a submission would be refused with `.queueFull` (`submit`'s own check, without
    /// its reservation): lets the HTTP layer refuse a flood on its event loop.
    public var isQueueFull: Bool {
        state.lock.withLock { !state.hasRoom(for: 1, limit: configuration.queueLimit) }
    }

    /// Jobs that may wait in the queue (`--queue-limit`).
    public var queueLimit: Int { configuration.queueLimit }

    // MARK: - Reading

    /// The job as it is now: running jobs from memory, the rest from the store. nil: unknown id.
    /// Never older than the change feed: a job whose end the store committed shows that end (see
    /// `committed`).
    public func job(_ id: String) async throws(EngineError) -> Job? {
        if let job = state.lock.withLock({ state.live[id]?.currentJob }) { return job }
        do { return try await store.get(id)?.job } catch { throw .storeUnavailable("\(error)") }
    }

    /// Newest first (`created_at`, then `id`), filtered by `query`; jobs in memory show their
    /// current state.
    public func list(_ query: JobQuery) async throws(EngineError) -> [Job] {
        let stored: [JobRecord]
        do { stored = try await store.list(query) } catch { throw .storeUnavailable("\(error)") }
        // A queued job is stored as it is; only jobs that left the queue (at most the running
        // slots and the cancels in flight) may be ahead of their stored record. So the lock is
        // held for the page and those, not for every queued job of a backlog.
        var byID: [String: Job] = state.lock.withLock {
            var byID: [String: Job] = [:]
            for record in stored { byID[record.id] = state.live[record.id]?.currentJob ?? record.job }
            for (id, live) in state.live where live.phase != .queued && byID[id] == nil {
                let job = live.currentJob
                if query.isPastCursor(job) { byID[id] = job }
            }
            return byID
        }
        return byID.values
            .filter { job in
                (query.states.isEmpty || query.states.contains(job.state))
                    && query.labels.allSatisfy { job.labels[$0.key] == $0.value }
                    && (query.groupID == nil || job.groupID == query.groupID)
                    && (query.scheduleID == nil || job.scheduleID == query.scheduleID)
            }
            .sorted { JobListPosition($0) > JobListPosition($1) }
            .prefix(query.limit)
            .map { $0 }
    }

    /// The store's change log after `seq` (at most `limit`), for resuming `GET /v1/events`;
    /// `.expired` when retention swept changes after it.
    public func changes(after seq: Int64, limit: Int) async throws(EngineError) -> JobChangePage {
        do { return try await store.changes(after: seq, limit: limit) } catch { throw .storeUnavailable("\(error)") }
    }

    /// Returns when the job is terminal, or after `timeout` seconds, or when the calling task is
    /// cancelled — in the latter two cases with its state then. nil for an unknown id. A retried
    /// job is not terminal between its attempts: the wait goes on through them. On a shared
    /// store, a job another node runs is read from the store until it is terminal. Between the
    /// store's commit of the terminal record and `endAttempt`'s bookkeeping (store health, the
    /// slot) it waits the moment more, and then returns the job terminal.
    public func wait(_ id: String, timeout: Double) async throws(EngineError) -> Job? {
        let deadline = ContinuousClock.now + .milliseconds(Int64(max(0, timeout) * 1000))
        func remaining() -> Double {
            let left = ContinuousClock.now.duration(to: deadline)
            return Double(left.components.seconds) + Double(left.components.attoseconds) * 1e-18
        }
        if shared != nil, state.lock.withLock({ state.live[id] == nil }) {
            return try await waitInStore(id, timeout: timeout)
        }
        while let live = state.lock.withLock({ state.live[id] }), !Task.isCancelled {
            let seconds = remaining()
            guard seconds > 0 else { break }
            await live.changes.wait(timeout: seconds) { [self] in state.lock.withLock { live.phase == .finished } }
        }
        return try await job(id)
    }
}
