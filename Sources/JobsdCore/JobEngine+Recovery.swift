import Glibc
import JobsdAPI
import JobsdStore
import Logging

extension JobEngine {
    // MARK: - Recovery

    /// Before accepting work (CONTRACT.md, "Durability"): queued jobs are queued again in creation
    /// order; jobs that were `running` become `failed` ("interrupted: …") and `cancelling` ones
    /// `cancelled` — for those, leftover processes are stopped (the recorded pid's group when its
    /// start time still matches, plus every process carrying the job's marker), the cleanup runs
    /// with `JOBSD_JOB_STATE` = the final state, the workdir is removed, the final record stored.
    func recover() async throws(EngineError) {
        let records: [JobRecord]
        do { records = try await store.unfinished() } catch { throw .storeUnavailable("\(error)") }
        var interrupted: [JobRecord] = []
        var requeued = 0
        state.lock.withLock {
            for record in records.sorted(by: { $0.id < $1.id }) {
                guard state.live[record.id] == nil else { continue }
                if record.state == .queued {
                    let live = LiveJob(record: record, phase: .queued)
                    state.live[record.id] = live
                    state.enqueue(live)
                    requeued += 1
                } else {
                    interrupted.append(record)
                }
            }
        }
        for _ in 0..<requeued { metrics.moved(from: nil, to: .queued) }
        if !records.isEmpty {
            logger.info("recovery", metadata: ["requeued": "\(requeued)", "interrupted": "\(interrupted.count)"])
        }
        await withDiscardingTaskGroup { group in
            for record in interrupted {
                group.addTask { await self.recoverInterrupted(record) }
            }
        }
    }

    private func recoverInterrupted(_ record: JobRecord) async {
        var logger = self.logger
        logger[metadataKey: "job.id"] = "\(record.id)"
        let outcome = record.state == .cancelling ? Outcome.cancelled : Outcome(state: .failed, error: Outcome.interrupted)
        logger.info("recovering a job interrupted by a stop of the server", metadata: [
            "state": "\(record.state.rawValue)", "outcome": "\(outcome.state.rawValue)",
        ])
        var group: pid_t?
        if let pid = record.job.pid, let ticks = record.processStartTicks, ProcessTable.info(pid)?.startTicks == ticks {
            group = pid
        }
        let ladder = SignalLadder(jobID: record.id, processGroup: group, watch: nil, logger: logger, escapedKilled: metrics.escapedKilled)
        let result = await ladder.stop(grace: record.job.graceSeconds)

        let workdir = workDirectory(record.id)
        var final = record
        if let spec = record.spec.cleanup {
            let env = JobEnvironment.forJob(id: record.id, workdir: workdir, user: record.spec.env)
            final.job.cleanup = await runCleanup(
                spec, jobID: record.id, env: env, finalState: outcome.state, workdir: workdir,
                grace: record.job.graceSeconds, logger: logger)
        }
        Workdir.remove(workdir)
        try? final.job.move(to: outcome.state)
        final.job.finishedAt = .now()
        final.job.error = outcome.error ?? (result.survivors > 0 ? Outcome.didNotStop : nil)
        final.job.logBytes = JobLog.open(dataDirectory: configuration.dataDirectory, id: record.id)?.keptBytes ?? record.job.logBytes
        await storeFinal(final, logger: logger)
        metrics.moved(from: nil, to: final.state)
        metrics.finished[final.state]?.increment()
        logger.info("job finished", metadata: ["state": "\(final.state.rawValue)", "error": "\(final.job.error ?? "null")"])
    }
}
