import Dispatch
import JobsdAPI
import JobsdStore
import Logging

extension JobEngine {
    // MARK: - Running

    /// Reads the store (see `recover`) and is ready at once; then starts queued jobs (FIFO, at
    /// most `maxRunning` at once) until shut down, while jobs interrupted by the previous stop are
    /// recovered in the background. Every job (also each recovered one) runs as a child task of
    /// the task group in here. Returns once shutdown is complete: every started or recovered job
    /// terminal, its processes reaped, its cleanup done; queued jobs stay queued in the store.
    /// Throws only when recovery cannot read the store.
    ///
    /// If the task running this is cancelled, it behaves like an immediate shutdown (running jobs
    /// are cancelled through the ladder; their cleanup still runs, shielded) and then returns.
    public func run() async throws {
        logger.info("job engine starting", metadata: [
            "containment": "\(containment.method.rawValue)", "containment.detail": "\(containment.detail)",
            "subreaper": "\(Reaper.shared.isSubreaper)",
        ])
        try await withTaskCancellationHandler {
            let interrupted = try await recover()
            let groups = try await recoverGroups()
            state.lock.withLock { state.ready = true }
            changes.broadcast()
            logger.info("job engine ready")
            await withDiscardingTaskGroup { group in
                group.addTask { await self.retentionLoop() }
                group.addTask { await self.trimHeapWhenIdle() }
                group.addTask { await self.storeProbeLoop() }
                if !groups.isEmpty { group.addTask { await self.resumeGroups(groups) } }
                if let shared {
                    group.addTask { await self.heartbeatLoop(shared) }
                    group.addTask { await self.rescueLoop(shared) }
                    group.addTask { await self.changePollLoop(shared) }
                    group.addTask { await self.groupWatchLoop(shared) }
                    group.addTask { await self.claimLoop(shared) }
                    group.addTask { await self.listenLoop(shared) }
                }
                for live in interrupted {
                    group.addTask { await self.recoverInterrupted(live) }
                }
                while let (batch, spawned, takenOver) = nextBatch() {
                    for live in batch {
                        group.addTask { await self.runJob(live) }
                    }
                    for (live, result) in spawned {
                        group.addTask { await self.runJob(live, spawned: result) }
                    }
                    for live in takenOver {
                        group.addTask { await self.finishLostAttempt(live) }
                    }
                    await changes.wait(timeout: nil, cancellable: false) { [self] in
                        state.lock.withLock {
                            !state.handedOff.isEmpty || !state.takenOver.isEmpty
                                || (state.shuttingDown ? state.starting == 0 : state.admission.hasStartable && state.running < configuration.maxRunning)
                        }
                    }
                }
            }
        } onCancel: {
            shutdown()
            shutdown()
        }
        workdirs.discardSpares()
        containment.cgroups?.removeIfEmpty()
        containment.resources.sweepV1(removingRoots: true)
        logger.info("job engine stopped")
    }

    /// Queued jobs that may start now (due, and a free slot of their key), moved to `running`,
    /// the jobs `submit` spawned itself, and jobs of this node that other nodes rescued (shared
    /// stores); nil once shutting down and no spawn by `submit` or rescued job is pending.
    private func nextBatch() -> (queued: [LiveJob], spawned: [(LiveJob, Result<SpawnedJob, SpawnError>)], takenOver: [LiveJob])? {
        let next: ([LiveJob], [(LiveJob, Result<SpawnedJob, SpawnError>)], [LiveJob])? = state.lock.withLock {
            let spawned = state.handedOff
            state.handedOff.removeAll()
            let takenOver = state.takenOver
            state.takenOver.removeAll()
            if state.shuttingDown {
                return spawned.isEmpty && takenOver.isEmpty && state.starting == 0 ? nil : ([], spawned, takenOver)
            }
            var batch: [LiveJob] = []
            while state.running < configuration.maxRunning, let live = state.popQueued() {
                take(live)
                batch.append(live)
            }
            return (batch, spawned, takenOver)
        }
        for _ in next?.0 ?? [] { metrics.moved(from: .queued, to: .running) }
        return next
    }

    /// Moves a job that left the queue to `running`. Caller holds the engine lock.
    private func take(_ live: LiveJob) {
        live.phase = .running
        try? live.record.job.move(to: .running)
        live.record.job.startedAt = .now()
        live.startedAt = .now()
        state.running += 1
    }

    /// For a job just queued: when the engine is idle (ready, not shutting down, no older job
    /// that may start, a free slot, the job is due and its key has room) and the job runs a process, takes it out of the queue so `submit`
    /// spawns it at once, without waiting for the run loop; the run loop then supervises it
    /// (`handedOff`). Caller holds the engine lock.
    func startsAtOnce(_ live: LiveJob) -> Bool {
        guard state.ready, !state.shuttingDown, state.admission.nextStartable === live, state.running < configuration.maxRunning,
              kinds.kind(for: live.record.spec.command) == nil, state.popQueued() === live
        else { return false }
        take(live)
        state.starting += 1
        return true
    }

    // MARK: - Shutdown

    /// Begins graceful shutdown; returns at once. Submissions throw `.shuttingDown`, queued jobs
    /// stay queued (on disk), running jobs get `shutdownTimeout` seconds to finish and are then
    /// cancelled as by `cancel` (ladder with their grace, cleanup, `cancelled`). A second call
    /// cancels running jobs at once. Reads, waits and cancels keep working meanwhile.
    public func shutdown() {
        let first: Bool = state.lock.withLock {
            defer { state.shuttingDown = true }
            return !state.shuttingDown
        }
        changes.broadcast()
        if first {
            logger.info("shutdown: draining running jobs", metadata: ["timeout": "\(configuration.shutdownTimeout)"])
            DispatchQueue.global().asyncAfter(deadline: .now() + configuration.shutdownTimeout) { [self] in
                cancelRunningJobs(reason: "shutdown timeout passed")
            }
        } else {
            cancelRunningJobs(reason: "second shutdown request")
        }
    }

    private func cancelRunningJobs(reason: String) {
        let stops: [(LiveJob, Job, Double)] = state.lock.withLock {
            state.live.values.compactMap { live in
                guard live.phase == .running else { return nil }
                return beginCancelling(live, grace: nil, reason: "shutdown").map { (live, $0.job, $0.grace) }
            }
        }
        for (live, job, grace) in stops {
            metrics.moved(from: .running, to: .cancelling)
            logger.info("cancel requested", metadata: ["job.id": "\(job.id)", "reason": "\(reason)"])
            live.watch.requestStop(grace: grace)
        }
    }

    // MARK: - Retention

    /// Purges finished jobs older than `retention` (and their logs) every `sweepInterval` until
    /// shutdown.
    private func retentionLoop() async {
        while true {
            await sweepExpiredJobs()
            let stopping = await changes.wait(timeout: configuration.sweepInterval, cancellable: false) { [self] in
                state.lock.withLock { state.shuttingDown }
            }
            if stopping { return }
        }
    }

    /// Jobs one purge transaction deletes: a sweep of 10^5 expired jobs is a thousand short
    /// writes, so a submission waits for one chunk (about a millisecond), not for the whole sweep.
    static let sweepChunk = 100

    /// One retention sweep, in chunks of `sweepChunk` jobs until none older is left (or the
    /// store refuses; the next sweep goes on from there); none while the store is in a fault. Each chunk's logs are removed as it
    /// commits. Shutdown does not interrupt it: a chunk is short, and the sweep ends with the
    /// jobs the store had expired.
    func sweepExpiredJobs() async {
        // While the store refuses writes the sweep waits: deleting rows frees no disk space
        // (SQLite keeps its file's pages), and the probe, which checks for free space first,
        // is what ends a fault.
        guard storeHealth.currentFault == nil else { return }
        let cutoff = Timestamp.now().adding(seconds: -configuration.retention)
        var purged = 0
        do {
            while true {
                let ids = try await writeOnce("retention sweep", wroteSomething: { !$0.isEmpty }) {
                    try await store.purge(finishedBefore: cutoff, limit: Self.sweepChunk)
                }
                logs.remove(ids)
                purged += ids.count
                if ids.count < Self.sweepChunk { break }
            }
        } catch {
            logger.error("retention sweep failed", metadata: ["error": "\(error)", "purged": "\(purged)"])
        }
        if purged > 0 { logger.info("retention: purged finished jobs", metadata: ["count": "\(purged)"]) }
    }
}
