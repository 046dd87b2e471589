import Glibc
import JobsdAPI
import JobsdStore
import Logging

extension JobEngine {
    // MARK: - Recovery

    /// Reads the store before the engine accepts work (CONTRACT.md, "Durability"): queued jobs are
    /// queued again in creation order; jobs that were `running` or `cancelling` are returned, held
    /// in memory in phase `.recovering` with their outcome already decided (`failed` with
    /// "interrupted: …", resp. `cancelled`). `run()` recovers those in the background
    /// (`recoverInterrupted`) while queued jobs run, so one slow leftover does not hold up the
    /// server. Until their final record is stored they show their stored state (`running` /
    /// `cancelling`), and `cancel` answers as for any job whose outcome is decided: `.cancelling`
    /// for a recovered `cancelling` job, `.finished` with state `failed` for a recovered `running`
    /// one (409: the server's stop decided it; a DELETE cannot turn it into `cancelled`).
    func recover() async throws(EngineError) -> [LiveJob] {
        let records: [JobRecord], lastSeqs: [String: Int]
        do {
            records = try await store.unfinished()
            lastSeqs = try await store.lastEventSeqOfUnfinishedJobs()
            changeFeed.prime(lastSeq: try await store.lastChangeSeq())
        } catch { throw .storeUnavailable("\(error)") }
        var interrupted: [LiveJob] = []
        var requeued = 0
        let nodeID = configuration.nodeID
        // On a shared store only this node's jobs are its to recover: those it claimed. Unclaimed
        // queued jobs wait for the claim loop; other nodes' jobs are theirs (or their rescuer's).
        let mine = records.filter { shared == nil || $0.owner == nodeID }
        state.lock.withLock {
            for record in mine.sorted(by: { $0.id < $1.id }) {
                guard state.live[record.id] == nil else { continue }
                if record.state == .queued {
                    let live = LiveJob(record: record, phase: .queued, lastEventSeq: lastSeqs[record.id] ?? 0)
                    state.live[record.id] = live
                    state.enqueue(live)
                    requeued += 1
                } else {
                    let live = LiveJob(record: record, phase: .recovering, lastEventSeq: lastSeqs[record.id] ?? 0)
                    live.outcome = record.state == .cancelling ? .cancelled : Outcome(state: .failed, error: Outcome.interrupted)
                    if record.state == .running { note(live, .interrupted, [.init("error", .string(Outcome.interrupted))]) }
                    live.log = logs.reopen(JobLog.attemptID(record.id, attempt: record.job.attempt))
                    state.live[record.id] = live
                    state.admission.occupy(live)
                    interrupted.append(live)
                }
            }
        }
        sweepStrayCgroups(keeping: Set(interrupted.map { $0.record.id }))
        containment.resources.sweepV1(removingRoots: false)
        for _ in 0..<requeued { metrics.moved(from: nil, to: .queued) }
        if !mine.isEmpty {
            logger.info("recovery", metadata: ["requeued": "\(requeued)", "interrupted": "\(interrupted.count)"])
        }
        return interrupted
    }

    /// Finishes one job interrupted by a stop of the server: stops its leftover processes
    /// (`stopLeftovers`), runs its cleanup with `JOBSD_JOB_STATE` = the final state,
    /// removes the workdir and stores the final record; only then is it terminal. A `failed`
    /// (interrupted) attempt is retried like any other when its retry policy says so. A job that was
    /// `cancelling` gets only what is left of its grace (counted from `cancel_requested_at`).
    /// Not cancellable: it runs to the end, also during shutdown.
    func recoverInterrupted(_ live: LiveJob) async {
        let (record, outcome) = state.lock.withLock { (live.record, live.outcome ?? Outcome(state: .failed, error: Outcome.interrupted)) }
        var logger = self.logger
        logger[metadataKey: "job.id"] = "\(record.id)"
        logger.info("recovering a job interrupted by a stop of the server", metadata: [
            "state": "\(record.state.rawValue)", "outcome": "\(outcome.state.rawValue)",
        ])
        let survivors = await stopLeftovers(live, record, grace: Self.remainingGrace(record.job, now: .now()), logger: logger)
        var cleanup = record.job.cleanup
        if let spec = record.spec.cleanup {
            cleanup = await runCleanupNoting(spec, live: live, record: record, finalState: outcome.state, logger: logger)
        }
        workdirs.remove(record.id, reuse: false)
        let log = state.lock.withLock { live.log }
        await log?.close()
        let (final, closing) = state.lock.withLock {
            var final = live.record
            final.job = live.currentJob
            try? final.job.move(to: outcome.state)
            final.job.finishedAt = .now()
            final.job.error = outcome.error ?? (survivors > 0 ? Outcome.didNotStop : nil)
            final.job.cleanup = cleanup
            return (final, closeAttempt(live, final))
        }
        await endAttempt(live, final, closing, previous: nil, countedRunning: false, logger: logger)
    }

    /// Stops the leftover processes of `record`'s attempt (those in its cgroup and its cleanup's,
    /// or below their subreapers, found by the job id; see `Containment.leftovers`) with the
    /// ladder and `grace`, notes what it sent in `live`'s timeline, and returns how many survived.
    func stopLeftovers(_ live: LiveJob, _ record: JobRecord, grace: Double, logger: Logger) async -> Int {
        var survivors = 0
        var stopped = SignalLadder.Result(survivors: 0, escaped: 0)
        for tree in containment.leftovers(of: record.id, attempt: record.job.attempt) {
            let ladder = SignalLadder(tree: tree, processGroup: nil, watch: nil, logger: logger, escapedKilled: metrics.escapedKilled)
            let result = await ladder.stop(grace: grace)
            if result.survivors == 0 { tree.release() }
            survivors += result.survivors
            stopped.signals += result.signals
        }
        if survivors == 0 {
            let attempt = record.job.attempt
            for name in [Containment.treeName(record.id, attempt: attempt), Containment.cleanupName(record.id, attempt: attempt)] {
                containment.resources.removeV1(name)
            }
        }
        noteStop(live, stopped)
        return survivors
    }

    /// Kills and removes the cgroups under this engine's root that no interrupted job claims: a
    /// finished job's cgroup that could not be removed, a probe left by a crashed start; and the
    /// owner marks (`StaleCgroupRoots`) of earlier runs that are no longer alive.
    private func sweepStrayCgroups(keeping ids: Set<String>) {
        guard let cgroups = containment.cgroups else { return }
        for name in cgroups.children() {
            if name.hasPrefix("owner.") {
                if !StaleCgroupRoots.ownerIsAlive(name) { rmdir(cgroups.root + "/" + name) }
                continue
            }
            guard !ids.contains(Containment.jobID(ofTree: name)), let cgroup = cgroups.existing(name) else { continue }
            cgroup.kill()
            cgroup.release()
            logger.info("stray cgroup removed", metadata: ["cgroup": "\(cgroup.path)"])
        }
    }

    /// The grace a recovered job's leftovers get: all of it for a `running` job; for a
    /// `cancelling` one what is left of it since the cancel was requested (0 when it has passed).
    static func remainingGrace(_ job: Job, now: Timestamp) -> Double {
        guard job.state == .cancelling, let requested = job.cancelRequestedAt else { return job.graceSeconds }
        return max(0, job.graceSeconds - requested.seconds(until: now))
    }
}
