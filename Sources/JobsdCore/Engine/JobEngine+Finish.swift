import Dispatch
import Foundation
import JobsdAPI
import JobsdStore
import Logging

extension JobEngine {
    // MARK: - Finishing

    /// Everything after the job's processes are gone, exactly once per started attempt: the
    /// output closed (all of it readable, from any node), the cleanup command (own timeout and
    /// ladder), workdir removal, then `endAttempt`: the final record stored durably, and only
    /// then the terminal state is reported (`wait`, `job`, metrics) and the running slot freed —
    /// or, when the retry policy says so, the job back in the queue for its next attempt after
    /// its backoff. Runs to the end even in a cancelled task: it awaits only waits that ignore
    /// cancellation (`cancellable: false`, the store's calls, the output's close), so no
    /// shielding task (and no hop to one) is needed — keep it that way.
    func finish(_ live: LiveJob, survivors: Int, logger: Logger) async {
        let (record, outcome) = state.lock.withLock { (live.record, live.outcome ?? Outcome(state: .failed, error: "internal error: no outcome")) }
        // Every byte of output readable before the job is terminal (a reader on another node
        // that sees it terminal has read all of it).
        let log = state.lock.withLock { live.log }
        await log?.close()
        var cleanup = record.job.cleanup
        if let spec = record.spec.cleanup {
            state.lock.withLock { live.record.job.cleanup.state = .running }
            cleanup = await runCleanupNoting(spec, live: live, record: record, finalState: outcome.state, logger: logger)
        }
        workdirs.remove(record.id, reuse: survivors == 0)

        let status = live.watch.snapshot.status
        let (final, previous, closing) = state.lock.withLock {
            var final = live.record
            final.job = live.currentJob
            let previous = final.job.state
            if (try? final.job.move(to: outcome.state)) == nil {
                logger.error("job could not reach its outcome", metadata: ["from": "\(previous.rawValue)", "to": "\(outcome.state.rawValue)"])
                final.job.state = outcome.state
            }
            final.job.finishedAt = .now()
            final.job.exitCode = status?.exitCode
            final.job.signal = status?.signalName
            final.job.error = outcome.error
                ?? (survivors > 0 ? Outcome.didNotStop : Self.stopExplanation(outcome.state, signal: final.job.signal, timeout: final.job.timeoutSeconds))
            final.job.cleanup = cleanup
            return (final, previous, closeAttempt(live, final))
        }
        await endAttempt(live, final, closing, previous: previous, countedRunning: true, logger: logger)
    }

    /// The sentence for a main process that jobsd stopped (timeout, cancel), so that `signal` with
    /// `error` null always means a signal jobsd did not send (CONTRACT.md, "A job").
    static func stopExplanation(_ state: JobState, signal: String?, timeout: Double) -> String? {
        let seconds = timeout.rounded() == timeout ? String(Int64(timeout)) : String(timeout)
        switch state {
        case .timedOut: return "timed out after \(seconds) s" + (signal.map { "; stopped with \($0)" } ?? "")
        case .cancelled: return signal.map { "cancelled; stopped with \($0)" }
        default: return nil
        }
    }

    // MARK: - Cleanup command

    /// `runCleanup` between the timeline's `cleanup_started` and `cleanup_finished`.
    func runCleanupNoting(_ spec: CleanupSpec, live: LiveJob, record: JobRecord, finalState: JobState, logger: Logger) async -> CleanupStatus {
        state.lock.withLock { note(live, .cleanupStarted, [.init("state", .string(CleanupState.running.rawValue))]) }
        let cleanup = await runCleanup(spec, for: record, finalState: finalState, logger: logger)
        state.lock.withLock {
            note(live, .cleanupFinished, [
                .init("state", .string(cleanup.state.rawValue)), .init("exit_code", cleanup.exitCode.map { .number(Double($0)) } ?? .null),
            ])
        }
        return cleanup
    }

    /// Runs the user's cleanup command of `record`'s job in the job's workdir (created if missing)
    /// with the job's env plus `JOBSD_JOB_STATE`, in its own session and its own containment (the
    /// cgroup `<id>.cleanup`, or its own subreaper). At its timeout it gets the ladder (SIGTERM,
    /// the job's grace, SIGKILL, until its tree is empty); its leftovers after it exits get the
    /// ladder too. Not cancellable.
    func runCleanup(_ spec: CleanupSpec, for record: JobRecord, finalState: JobState, logger: Logger) async -> CleanupStatus {
        let jobID = record.id, grace = record.job.graceSeconds
        let workdir = workDirectory(jobID)
        let user = (try? users.credentials(for: record.spec.user)) ?? nil
        var env = JobEnvironment.forJob(id: jobID, workdir: workdir, user: record.spec.env, runAs: user?.name)
        env["JOBSD_JOB_STATE"] = finalState.rawValue
        let timeout = spec.timeoutSeconds ?? CleanupSpec.defaultTimeoutSeconds
        let watch = ProcessWatch()
        let spawned: ContainedSpawn
        do {
            try? FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
            let path = try JobEnvironment.resolve(spec.command.first ?? "", path: env["PATH"])
            let stdin = try Pipes.devNull(O_RDONLY)
            defer { close(stdin) }
            let out = try Pipes.devNull(O_WRONLY)
            defer { close(out) }
            spawned = try containment.spawn(
                Containment.cleanupName(jobID, attempt: record.job.attempt), jobID: jobID, path: path, argv: spec.command,
                env: env.map { "\($0.key)=\($0.value)" }, cwd: workdir, stdin: stdin, stdout: out, stderr: out,
                user: try users.credentials(for: record.spec.user), onExit: watch.exited)
        } catch {
            logger.info("cleanup could not start", metadata: ["error": "\(error)"])
            return CleanupStatus(state: .failed, error: error.description)
        }
        logger.info("cleanup started", metadata: ["pid": "\(spawned.pid)"])
        let timer = Deadlines.shared.schedule(after: timeout) { watch.requestStop(grace: grace) }

        var snapshot = watch.snapshot
        while snapshot.status == nil, snapshot.stopGrace == nil {
            await watch.wait(after: snapshot.generation, timeout: nil)
            snapshot = watch.snapshot
        }
        Deadlines.shared.cancel(timer)
        let timedOut = snapshot.status == nil
        let ladder = SignalLadder(tree: spawned.tree, processGroup: spawned.pid, watch: watch, logger: logger, escapedKilled: metrics.escapedKilled)
        if await ladder.stop(grace: grace).survivors == 0 { spawned.tree.release() }
        let status = watch.snapshot.status
        let result: CleanupStatus
        if timedOut {
            result = CleanupStatus(state: .timedOut, exitCode: status?.exitCode, error: "cleanup timed out after \(timeout) seconds")
        } else if status?.exitCode == 0 {
            result = CleanupStatus(state: .done, exitCode: 0)
        } else {
            result = CleanupStatus(state: .failed, exitCode: status?.exitCode, error: status?.signalName.map { "killed by \($0)" })
        }
        logger.info("cleanup done", metadata: ["state": "\(result.state.rawValue)", "exit_code": "\(result.exitCode.map(String.init) ?? "null")"])
        return result
    }
}
