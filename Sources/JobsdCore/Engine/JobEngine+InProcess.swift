import Dispatch
import JobsdAPI
import JobsdStore
import Logging

extension JobEngine {
    // MARK: - In-process jobs

    /// Registers an in-process job kind: a job whose `command[0]` is `name` runs `body` instead of
    /// a process (everything else — queue, deadline, cancel, cleanup command, states — is the
    /// same). See `JobContext` for cancellation and abandonment.
    public func register(_ name: String, _ body: @escaping InProcessJobBody) {
        kinds.register(name, body)
    }

    /// Runs the closure in its own task (so that one ignoring cancellation can be abandoned; the
    /// job's own task stays a child of `run()`'s group) until it returns or is stopped, then runs
    /// its cleanup hooks shielded. Returning → exit code 0 (`succeeded`); throwing → exit code 1
    /// (`failed`, the error as the job's error).
    func runInProcess(_ live: LiveJob, kind: @escaping InProcessJobBody, logger: Logger) async {
        let record = state.lock.withLock { live.record }
        let log = createLog(live, record: record, owner: nil, logger: logger)
        let hooks = CleanupHooks()
        let context = JobContext(
            jobID: record.id, arguments: Array(record.spec.command.dropFirst()),
            environment: JobEnvironment.forJob(id: record.id, workdir: workDirectory(record.id), user: record.spec.env),
            log: log, hooks: hooks, onOutput: { live.changes.broadcast() })
        let (startedAt, queueWait) = state.lock.withLock {
            live.log = log
            let startedAt = live.record.job.startedAt ?? .now()
            note(live, .started, at: startedAt, [.init("attempt", .number(Double(live.record.job.attempt)))])
            return (startedAt, live.queueWaitNanoseconds)
        }
        logger.info("job started", metadata: ["kind": "in-process"])
        metrics.queueWait.recordNanoseconds(queueWait)
        await persist(live, logger: logger)

        let task = Task {
            do {
                try await kind(context)
                self.inProcessEnded(live, ExitStatus(raw: 0), error: nil)
            } catch {
                self.inProcessEnded(live, ExitStatus(raw: 1 << 8), error: "\(error)")
            }
        }
        armDeadline(live, startedAt: startedAt, timeout: record.job.timeoutSeconds, logger: logger)
        await persist(live, logger: logger)

        let snapshot = await live.watch.exitOrStop()
        if let deadline = state.lock.withLock({ live.deadline }) { Deadlines.shared.cancel(deadline) }
        if let grace = snapshot.stopGrace, snapshot.status == nil {
            await persistCancellingIfNeeded(live, logger: logger)
            task.cancel()
            logger.info("in-process job cancelled; waiting for it to return", metadata: ["grace": "\(grace)"])
            let end = DispatchTime.now() + grace
            while live.watch.snapshot.status == nil, DispatchTime.now() < end {
                let generation = live.watch.snapshot.generation
                let remaining = Double(end.uptimeNanoseconds &- min(end.uptimeNanoseconds, DispatchTime.now().uptimeNanoseconds)) / 1e9
                await live.watch.wait(after: generation, timeout: remaining)
            }
            if live.watch.snapshot.status == nil {
                metrics.abandoned.increment()
                logger.warning("in-process job ignored cancellation; abandoned while still running")
            }
        }
        for hook in hooks.take() { await Task { await hook() }.value }
    }

    private func inProcessEnded(_ live: LiveJob, _ status: ExitStatus, error: String?) {
        state.lock.withLock {
            if live.outcome == nil { live.outcome = Outcome(state: error == nil ? .succeeded : .failed, error: error) }
        }
        live.watch.exited(status)
    }
}
