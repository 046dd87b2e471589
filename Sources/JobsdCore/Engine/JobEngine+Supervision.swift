import Dispatch
import Foundation
import JobsdAPI
import JobsdStore
import Logging

extension JobEngine {
    // MARK: - One job

    /// Runs one job that left the queue, to its terminal state: spawn, supervise until its main
    /// process exits or it is stopped (deadline, cancel, shutdown), stop the whole tree, drain the
    /// output, then `finish` (cleanup, workdir, final record). Cancellation of `run()` reaches
    /// this task but changes nothing here: every wait on the way ignores it (see `finish`).
    func runJob(_ live: LiveJob, spawned: Result<SpawnedJob, SpawnError>? = nil) async {
        let (record, decided) = state.lock.withLock { (live.record, live.outcome != nil) }
        var logger = self.logger
        logger[metadataKey: "job.id"] = "\(record.id)"
        var survivors = 0
        if let spawned {
            // `submit` spawned it: supervise it whatever was decided since (its exit, a cancel).
            survivors = await supervise(live, record: record, spawned: spawned, logger: logger)
        } else if !decided {
            if let kind = kinds.kind(for: record.spec.command) {
                await runInProcess(live, kind: kind, logger: logger)
            } else {
                survivors = await supervise(live, record: record, spawned: nil, logger: logger)
            }
        }
        await finish(live, survivors: survivors, logger: logger)
    }

    func workDirectory(_ id: String) -> String { workdirs.path(id) }

    /// Spawns the job's main process (unless `submit` did: `spawned`) and supervises its tree
    /// until all of it is gone. Returns the number of processes that survived SIGKILL (normally 0).
    private func supervise(_ live: LiveJob, record: JobRecord, spawned prespawned: Result<SpawnedJob, SpawnError>?, logger: Logger) async -> Int {
        let spawned: SpawnedJob
        do throws(SpawnError) {
            if let prespawned { spawned = try prespawned.get() } else { spawned = try spawnJob(live, record: record) }
        } catch {
            state.lock.withLock {
                if live.outcome == nil { live.outcome = Outcome(state: .failed, error: error.description) }
                note(live, .spawnFailed, [.init("error", .string(error.description))])
            }
            logger.info("job could not start", metadata: ["error": "\(error)"])
            return 0
        }
        // The log after the spawn (off the start latency): the output waits in the pipes meanwhile.
        let log = createLog(live, record: record, owner: spawned.user.map { ($0.uid, $0.gid) }, logger: logger)
        let pid = spawned.pid
        let (startedAt, queueWait) = state.lock.withLock {
            live.log = log
            live.record.job.pid = pid
            live.record.processStartTicks = spawned.startTicks
            let startedAt = live.record.job.startedAt ?? .now()
            note(live, .started, at: startedAt, [.init("pid", .number(Double(pid))), .init("attempt", .number(Double(live.record.job.attempt)))])
            return (startedAt, live.queueWaitNanoseconds)
        }
        logger.info("job started", metadata: ["pid": "\(pid)"])
        metrics.queueWait.recordNanoseconds(queueWait)
        let pump = OutputPump(stdout: spawned.stdout, stderr: spawned.stderr, log: log) { live.changes.broadcast() }
        armDeadline(live, startedAt: startedAt, timeout: record.job.timeoutSeconds, logger: logger)
        await persist(live, logger: logger)

        let snapshot = await live.watch.exitOrStop()
        await persistCancellingIfNeeded(live, logger: logger)
        if snapshot.status != nil { logger.info("main process exited", metadata: ["status": "\(snapshot.status!)"]) }

        // Stop what is left (everything, on cancel/timeout; leftovers after a natural exit).
        let ladder = SignalLadder(tree: spawned.tree, processGroup: pid, watch: live.watch, logger: logger, escapedKilled: metrics.escapedKilled)
        let result = await ladder.stop(grace: snapshot.stopGrace ?? record.job.graceSeconds)
        let oomKills = spawned.limits?.oomKills ?? 0
        if result.survivors == 0 {
            spawned.tree.release()
            spawned.limits?.release()
        }
        if let deadline = state.lock.withLock({ live.deadline }) { Deadlines.shared.cancel(deadline) }
        noteStop(live, result)
        noteLimits(live, oomKills: oomKills, limits: record.spec.limits)

        // All writers are gone: the pipes reach end-of-file once drained. Bounded, in case a
        // process we could not find still holds them.
        if !(await pump.waitUntilDrained(timeout: 2)) {
            logger.warning("output pipes still held open after the job's processes were stopped; closing them")
            await pump.close()
        }
        return result.survivors
    }

    /// Fresh workdir, stdin (a memfd holding the text, or /dev/null), output pipes, then spawn in a
    /// new session under the engine's containment (the job's own cgroup, or its subreaper), with
    /// the reaper delivering the exit to `leaderExited`.
    func spawnJob(_ live: LiveJob, record: JobRecord) throws(SpawnError) -> SpawnedJob {
        let user = try users.credentials(for: record.spec.user)
        let workdir = try workdirs.create(record.id)
        if let user { JobUsers.handOver(workdir, to: user) }
        let env = JobEnvironment.forJob(id: record.id, workdir: workdir, user: record.spec.env, runAs: user?.name)
        let path = try JobEnvironment.resolve(record.spec.command.first ?? "", path: env["PATH"])
        let stdin = try Pipes.stdin(record.spec.stdin)
        defer { close(stdin) }
        let out = try Pipes.pipe()
        let err: (read: Int32, write: Int32)
        do { err = try Pipes.pipe() } catch {
            close(out.read)
            close(out.write)
            throw error
        }
        defer {
            close(out.write)
            close(err.write)
        }
        do {
            let spawned = try containment.spawn(
                Containment.treeName(record.id, attempt: record.job.attempt), jobID: record.id, path: path, argv: record.spec.command,
                env: env.map { "\($0.key)=\($0.value)" }, cwd: workdir, stdin: stdin, stdout: out.write, stderr: err.write,
                limits: record.spec.limits, user: user
            ) { [self] status in leaderExited(live, status) }
            live.watch.stopsGroup(spawned.pid)
            return SpawnedJob(
                pid: spawned.pid, startTicks: spawned.startTicks, tree: spawned.tree, limits: spawned.limits, user: user,
                stdout: out.read, stderr: err.read)
        } catch {
            close(out.read)
            close(err.read)
            throw error
        }
    }

    /// A fresh log for the attempt of `record` that is starting, its files (if any) given to
    /// `owner` (the job's user; nil: jobsd's). Its readable output wakes the job's followers; when
    /// it begins or stops dropping output it cannot store, the job's timeline says so
    /// (`logDropChanged`). Both callbacks hold the job weakly (the log may outlive it).
    func createLog(_ live: LiveJob, record: JobRecord, owner: (uid: UInt32, gid: UInt32)?, logger: Logger) -> any OpenJobLog {
        logs.create(
            JobLog.attemptID(record.id, attempt: record.job.attempt), maxBytes: configuration.maxLogBytes, owner: owner,
            onReadable: { [weak live] in live?.changes.broadcast() },
            onDrop: { [weak self, weak live] drop in
                guard let self, let live else { return }
                logDropChanged(live, drop, logger: logger)
            })
    }

    /// The job's log began (`log_dropped`, with the error) or stopped (`log_resumed`, with the bytes
    /// lost meanwhile) dropping output it could not store; the total is the job's
    /// `log_dropped_bytes`. Logged once each, never per chunk.
    private func logDropChanged(_ live: LiveJob, _ drop: JobLogDrop, logger: Logger) {
        switch drop {
        case let .started(error):
            state.lock.withLock { note(live, .logDropped, [.init("error", .string(error))]) }
            logger.warning("job output cannot be stored; dropping it until the log can grow", metadata: ["error": "\(error)"])
        case let .ended(bytes):
            state.lock.withLock { note(live, .logResumed, [.init("bytes", .number(Double(bytes)))]) }
            logger.notice("job output is stored again", metadata: ["dropped_bytes": "\(bytes)"])
        }
    }

    /// The reaper delivered the main process's exit: the outcome is decided now unless a cancel
    /// or the deadline was recorded first.
    private func leaderExited(_ live: LiveJob, _ status: ExitStatus) {
        state.lock.withLock {
            if live.outcome == nil { live.outcome = .natural(status) }
        }
        live.watch.exited(status)
    }

    /// After the job's tree is gone: an OOM kill in its memory cgroup (`oom_killed`, counted)
    /// turns a failure of the main process into "killed by the kernel: out of memory"; a main
    /// process the kernel stopped at `cpu_seconds` (SIGXCPU) gets its explanation too.
    private func noteLimits(_ live: LiveJob, oomKills kills: Int, limits: JobLimits?) {
        let status = live.watch.snapshot.status
        if kills > 0 { metrics.oomKilled.increment() }
        let stoppedByCPU = status?.signalName == "SIGXCPU" && limits?.cpuSeconds != nil
        if stoppedByCPU { metrics.cpuLimitStopped.increment() }
        state.lock.withLock {
            if kills > 0 {
                var fields: [JobEvent.Field] = [.init("count", .number(Double(kills)))]
                if let bytes = limits?.memoryBytes { fields.append(.init("limit_bytes", .number(Double(bytes)))) }
                note(live, .oomKilled, fields)
            }
            guard case let .some(outcome) = live.outcome, outcome.error == nil, outcome.state == .failed else { return }
            if kills > 0, let bytes = limits?.memoryBytes {
                live.outcome = Outcome(state: .failed, error: "killed by the kernel: out of memory (limit \(bytes) bytes)")
            } else if stoppedByCPU, let seconds = limits?.cpuSeconds {
                live.outcome = Outcome(state: .failed, error: "stopped by the kernel: CPU time limit reached (cpu_seconds \(seconds))")
            }
        }
    }

    /// Notes what stopping the tree did, in the order it happened (monotonic clock): the signals
    /// the ladder (or the stop request) sent, the main process's exit, and `leftovers_killed`
    /// when processes outlived a main process that exited by itself.
    func noteStop(_ live: LiveJob, _ result: SignalLadder.Result) {
        var timeline = result.signals.map { sent in
            (sent.time, JobEvent(.signalSent, at: sent.time.at, [
                .init("signal", .string(ExitStatus.name(ofSignal: sent.signal))), .init("target", .string(sent.target)),
                .init("pids", .number(Double(sent.pids))),
            ]))
        }
        if let status = live.watch.snapshot.status, let exited = live.watch.exitedAt {
            timeline.append((exited, .exited(status, at: exited.at)))
        }
        let ordered = timeline.enumerated().sorted { ($0.element.0.instant, $0.offset) < ($1.element.0.instant, $1.offset) }
        state.lock.withLock {
            for (_, (_, event)) in ordered { note(live, event.type, at: event.at, event.fields) }
            if result.leftovers > 0 { note(live, .leftoversKilled, [.init("count", .number(Double(result.leftovers)))]) }
        }
    }

    /// Schedules the deadline (counted from the start): if it passes before the outcome is
    /// decided, the job will end `timed_out` and its tree gets the ladder.
    func armDeadline(_ live: LiveJob, startedAt: Timestamp, timeout: Double, logger: Logger) {
        let remaining = max(0, timeout - startedAt.seconds(until: .now()))
        let token = Deadlines.shared.schedule(after: remaining) { [self, weak live] in
            guard let live else { return }
            let grace: Double? = state.lock.withLock {
                guard live.outcome == nil else { return nil }
                live.outcome = .timedOut
                note(live, .deadlineReached)
                return live.record.job.graceSeconds
            }
            if let grace {
                logger.info("deadline passed", metadata: ["timeout": "\(timeout)"])
                live.watch.requestStop(grace: grace)
            }
        }
        state.lock.withLock { live.deadline = token }
    }
}

/// A job's main process just spawned: its pid, start time, process tree and the read ends of its
/// output pipes.
struct SpawnedJob: Sendable {
    var pid: pid_t
    var startTicks: UInt64?
    var tree: any ContainedTree
    /// The limits as applied (v1 cgroups, OOM counter); nil without limits.
    var limits: AppliedLimits?
    /// The user it runs as; nil: jobsd's own.
    var user: UserCredentials?
    var stdout: Int32
    var stderr: Int32
}
