import Dispatch
import Glibc
import JobsdAPI
import JobsdStore
import Logging

/// Several nodes on one shared store (CONTRACT.md, "Several nodes on PostgreSQL"): claiming queued
/// jobs, the lease and rescue heartbeat, notifications between nodes, and the reads and cancels of
/// jobs another node holds. None of it runs on a store one node owns (SQLite): there the
/// in-memory queue is the whole queue and every job is this node's.
extension JobEngine {
    /// NOTIFY channel: a job was queued (payload empty); nodes with a free slot claim.
    static let queuedChannel = "jobsd_queued"
    /// NOTIFY channel: cancel a job (payload `<id>` or `<id> <grace seconds>`); its holder does.
    static let cancelChannel = "jobsd_cancel"

    /// The host name (`--node-id`'s default).
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "jobsd" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "jobsd" : name
    }

    /// Sets the URL shown for this node in `GET /v1/nodes` when `--advertise-url` was not given
    /// (the server knows its port only once it listens).
    public func setAddress(_ url: String) {
        state.lock.withLock { if configuration.advertiseURL == nil { state.address = url } }
    }

    /// The nodes of the cluster; on a store one node owns, this node alone.
    public func nodes() async throws(EngineError) -> [NodeRecord] {
        guard let shared else {
            return state.lock.withLock {
                [NodeRecord(
                    id: configuration.nodeID, address: state.address, startedAt: state.startedAt, lastSeenAt: .now(),
                    running: state.running, maxRunning: configuration.maxRunning, alive: true)]
            }
        }
        do { return try await shared.nodes(timeout: configuration.nodeTimeout) } catch { throw .storeUnavailable("\(error)") }
    }

    // MARK: - Submitting and claiming

    /// After a submission to a shared store: this node's claim loop looks at once; other nodes are
    /// told only when this one has no free slot (they find it at their next heartbeat otherwise).
    func queuedInShared(_ shared: any SharedJobStore, _ job: Job) async {
        let full: Bool = state.lock.withLock {
            state.reserved -= 1
            state.claimWanted = true
            return state.running + state.queuedCount >= configuration.maxRunning
        }
        metrics.submitted.increment()
        logger.info("job submitted", metadata: ["job.id": "\(job.id)", "command": "\(job.command)"])
        changes.broadcast()
        if full { try? await shared.notify(channel: Self.queuedChannel, payload: "") }
        if let runAt = job.runAt { wakeClaims(at: runAt) }
    }

    /// Shared stores: sets `claimWanted` once `runAt` has come (a scheduled start, or the end of
    /// a retry backoff, of a job that waits in the store), on a Dispatch timer, so that it is
    /// claimed on time rather than at the next heartbeat (which still finds it, e.g. after a
    /// restart). Nothing to cancel: a timer that finds nothing to claim costs one claim query.
    func wakeClaims(at runAt: Timestamp) {
        let seconds = Timestamp.now().seconds(until: runAt)
        guard seconds > 0 else { return }
        // A little after, so that the database's clock (the claim's) has passed it too.
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds + 0.02) { [self] in
            state.lock.withLock { state.claimWanted = true }
            changes.broadcast()
        }
    }

    /// Claims queued jobs while this node has free slots, whenever something may have changed
    /// (`claimWanted`) and at least every heartbeat, until shutdown; then gives back the jobs it
    /// claimed but did not spawn (`release`), so other nodes run them. Claimed jobs are stored
    /// `running` and wait here only until the run loop spawns them. Not cancellable.
    func claimLoop(_ shared: any SharedJobStore) async {
        await changes.wait(timeout: nil, cancellable: false) { [self] in
            state.lock.withLock { state.leaseHeld || state.shuttingDown }
        }
        while true {
            let (free, stopping): (Int, Bool) = state.lock.withLock {
                state.claimWanted = false
                return (configuration.maxRunning - state.running - state.queuedCount, state.shuttingDown)
            }
            if stopping { break }
            var more = false
            if free > 0 {
                do {
                    let claimed = try await shared.claimQueued(
                        node: configuration.nodeID, limit: free, agingMilliseconds: state.lock.withLock { state.admission.agingMilliseconds })
                    // Key limits may leave slots free: claim again until nothing more is claimable.
                    more = !claimed.isEmpty
                    if !claimed.isEmpty { queueClaimed(claimed) }
                } catch {
                    logger.warning("claiming queued jobs failed", metadata: ["error": "\(error)"])
                }
            }
            if more { continue }
            await changes.wait(timeout: configuration.heartbeat, cancellable: false) { [self] in
                state.lock.withLock { state.claimWanted || state.shuttingDown }
            }
        }
        let dropped: [String] = state.lock.withLock {
            var ids: [String] = []
            while let live = state.popQueued() {
                state.live[live.record.id] = nil
                ids.append(live.record.id)
            }
            return ids
        }
        for _ in dropped { metrics.moved(from: .queued, to: nil) }
        do { try await shared.release(dropped, node: configuration.nodeID) } catch {
            logger.warning("giving back claimed jobs failed; other nodes take them after --node-timeout", metadata: ["error": "\(error)"])
        }
    }

    private func queueClaimed(_ claimed: [(record: JobRecord, lastEventSeq: Int)]) {
        var added = 0
        state.lock.withLock {
            for case (var record, let lastEventSeq) in claimed where state.live[record.id] == nil {
                // Stored `running` by the claim; here it waits for the run loop as any queued job.
                record.job.state = .queued
                record.job.startedAt = nil
                let live = LiveJob(record: record, phase: .queued, lastEventSeq: lastEventSeq)
                state.live[record.id] = live
                state.enqueue(live)
                added += 1
            }
        }
        for _ in 0..<added { metrics.moved(from: nil, to: .queued) }
        changes.broadcast()
    }

    // MARK: - Lease and rescue

    /// True once shutdown began and every job this node started is terminal.
    private var nodeDone: Bool { state.lock.withLock { nodeDoneLocked } }
    /// `nodeDone`; caller holds the engine lock.
    private var nodeDoneLocked: Bool { state.shuttingDown && state.running == 0 && state.starting == 0 }

    /// Renews this node's lease every heartbeat (also while draining), has silent nodes' jobs
    /// rescued (`rescueLoop`); hands this node's own attempts that another node rescued to
    /// `takeOverLost`. It awaits nothing but the renewal: a renewal late behind a long write of
    /// this node (a group insert holds the change relay for seconds) would have a healthy node's
    /// jobs rescued. Returns once the node is done (shutdown, every started job terminal). A
    /// failed renewal is logged: jobs keep running, and the next heartbeat tries again.
    func heartbeatLoop(_ shared: any SharedJobStore) async {
        var handled = Set<String>()  // "<id>#<attempt>" of the rescued attempts being dealt with
        while true {
            let done = nodeDone
            let node: NodeRecord = state.lock.withLock {
                NodeRecord(
                    id: configuration.nodeID, address: state.address, startedAt: state.startedAt, lastSeenAt: .now(),
                    running: state.running, maxRunning: configuration.maxRunning, alive: true)
            }
            do {
                let beat = try await shared.heartbeat(node, timeout: configuration.nodeTimeout)
                metrics.leaseRenewals.increment()
                let regained: Bool = state.lock.withLock {
                    defer { (state.leaseHeld, state.storeLost) = (true, false) }
                    return !state.leaseHeld || state.storeLost
                }
                if regained { changes.broadcast() }
                if !beat.requeued.isEmpty {
                    logger.warning("queued jobs of silent nodes given back", metadata: ["jobs": "\(beat.requeued.joined(separator: ","))"])
                    state.lock.withLock { state.claimWanted = true }
                    changes.broadcast()
                }
                if beat.rescuable {
                    state.lock.withLock { state.rescueWanted = true }
                    changes.broadcast()
                }
                let lost = beat.takenOver.map { ("\($0.record.id)#\($0.attempt)", $0) }
                for (key, taken) in lost where !handled.contains(key) {
                    if takeOverLost(taken) { handled.insert(key) }
                }
                handled.formIntersection(lost.map(\.0))  // those stored as ended are not reported again
            } catch {
                state.lock.withLock { state.storeLost = true }
                logger.warning("lease renewal failed: not ready until the database answers again", metadata: ["error": "\(error)"])
            }
            if done { return }
            await changes.wait(timeout: configuration.heartbeat, cancellable: false) { [self] in nodeDone }
        }
    }

    /// Every heartbeat until the node is done, reads the changes other nodes committed that no
    /// notification brought (`catchUpChanges`): the safety poll of the change log, apart from
    /// the lease renewal because it waits for this node's writes. Not cancellable.
    func changePollLoop(_ shared: any SharedJobStore) async {
        while !nodeDone {
            await changes.wait(timeout: configuration.heartbeat, cancellable: false) { [self] in nodeDone }
            await catchUpChanges(shared, notified: nil)
        }
    }

    /// Rescues silent nodes' jobs each time a heartbeat found some (`rescueWanted`), apart from
    /// the heartbeat, so that a rescue waiting for the store (its pool, another node's locks)
    /// never delays this node's own lease renewal. Returns once the node is done. Not cancellable.
    func rescueLoop(_ shared: any SharedJobStore) async {
        while true {
            await changes.wait(timeout: nil, cancellable: false) { [self] in
                state.lock.withLock { state.rescueWanted || nodeDoneLocked }
            }
            guard state.lock.withLock({ () -> Bool in
                defer { state.rescueWanted = false }
                return state.rescueWanted
            }) else { return }
            await rescueSilentNodes(shared)
        }
    }

    /// Rescues the running and `cancelling` jobs of silent nodes (`SharedJobStore.rescue`, each
    /// decided by `rescued(_:at:)`). A failure is logged; the next heartbeat asks again.
    private func rescueSilentNodes(_ shared: any SharedJobStore) async {
        do {
            let rescued = try await shared.rescue(node: configuration.nodeID, timeout: configuration.nodeTimeout) { Self.rescued($0, at: $1) }
            guard !rescued.isEmpty else { return }
            metrics.rescued.increment(by: rescued.count)
            logger.warning("rescued jobs of silent nodes", metadata: [
                "jobs": "\(rescued.map(\.id).joined(separator: ","))",
                "retried": "\(rescued.filter { $0.state == .queued }.map(\.id).joined(separator: ","))",
            ])
            state.lock.withLock { state.claimWanted = true }
            changes.broadcast()
        } catch {
            logger.warning("rescuing the jobs of silent nodes failed; retrying at the next heartbeat", metadata: ["error": "\(error)"])
        }
    }

    /// What a rescue stores for `record`, a running or `cancelling` job of a silent node, at `now`
    /// (the database's clock). A running job's attempt ends `failed` ("interrupted: node <id>
    /// stopped responding", event `interrupted`), a `cancelling` one's `cancelled`; `finished_at`
    /// is now and a cleanup not run yet stays `pending`, for the old node. Then, as for any
    /// ended attempt (`closeAttempt`), the job is retried when its policy says so — queued again
    /// for any node, with `retry_scheduled` and `scheduled` — else it gets `finished`.
    static func rescued(_ record: JobRecord, at now: Timestamp) -> (record: JobRecord, events: [JobEvent]) {
        var ended = record
        var events: [JobEvent] = []
        if record.state == .cancelling {
            ended.job.state = .cancelled
        } else {
            let error = "interrupted: node \(record.owner ?? "null") stopped responding"
            ended.job.state = .failed
            ended.job.error = error
            events.append(JobEvent(.interrupted, at: now, [.init("error", .string(error))]))
        }
        ended.job.finishedAt = now
        if ended.job.cleanup.state == .running { ended.job.cleanup = CleanupStatus(state: .pending) }
        let closing = closing(ended, at: now, shared: true)
        return (closing.record, events + closing.events)
    }

    /// An attempt of this node that another node rescued (this node froze, lost the database, or
    /// crashed and came back); the rescue decided how it ended. Still running here: its
    /// processes are killed at once, then its cleanup runs here, and of the record that ends the
    /// attempt only the cleanup outcome and the events the rescue did not write are stored. Not
    /// running here: `finishLostAttempt` does the same through the run loop. False when this
    /// node runs a later attempt of the job meanwhile (the next heartbeat reports it again).
    private func takeOverLost(_ taken: TakenOverAttempt) -> Bool {
        let record = taken.record
        let (accepted, running): (Bool, LiveJob?) = state.lock.withLock {
            if let live = state.live[record.id] {
                guard live.record.job.attempt == taken.attempt else { return (false, nil) }
                return (true, live.phase == .running ? live : nil)
            }
            var lost = record
            if lost.job.attempt != taken.attempt || !lost.state.isTerminal {
                // The job went on to its next attempt: this one ended failed (see its `attempts`).
                lost.job.attempt = taken.attempt
                lost.job.state = .failed
                lost.job.cleanup = CleanupStatus(state: lost.spec.cleanup == nil ? .none : .pending)
            }
            lost.fence = 0  // no stored token is 0: the write passes only as the end of the rescued attempt
            state.takenOver.append(LiveJob(record: lost, phase: .recovering))
            return (true, nil)
        }
        guard accepted else { return false }
        logger.warning("lease lost: another node took this job over", metadata: [
            "job.id": "\(record.id)", "attempt": "\(taken.attempt)", "running_here": "\(running != nil)",
        ])
        running?.watch.requestStop(grace: 0)
        changes.broadcast()
        return true
    }

    /// Ends here an attempt another node rescued (`takeOverLost`) that no longer runs here: kills
    /// its leftover processes at once, runs its cleanup with `JOBSD_JOB_STATE` = the state the
    /// rescue gave it, removes its workdir, and stores the cleanup outcome and its events
    /// (retried until stored). The job is not in this node's table: the rescue decided its state.
    /// Not cancellable.
    func finishLostAttempt(_ live: LiveJob) async {
        let record = state.lock.withLock { live.record }
        var logger = self.logger
        logger[metadataKey: "job.id"] = "\(record.id)"
        logger.info("ending an attempt another node rescued", metadata: ["attempt": "\(record.job.attempt)"])
        _ = await stopLeftovers(live, record, grace: 0, logger: logger)
        var final = record
        if let spec = record.spec.cleanup {
            final.job.cleanup = await runCleanupNoting(spec, live: live, record: record, finalState: record.state, logger: logger)
        }
        // A later attempt this node claimed meanwhile runs in the same workdir.
        if state.lock.withLock({ state.live[record.id] == nil }) { workdirs.remove(record.id, reuse: false) }
        let write: JobWrite = state.lock.withLock {
            live.ending = final
            return JobWrite(record: final, ticket: issueWrite(live), events: takeEvents(live))
        }
        await storeInTurn(live, write, logger: logger)
    }

    // MARK: - Notifications

    /// Listens for new jobs, cancels and committed changes of other nodes until the node is done
    /// (and, on reconnecting, reads the changes it may have missed). When the
    /// database cannot be reached it tries again every heartbeat.
    func listenLoop(_ shared: any SharedJobStore) async {
        let (notifications, inbox) = AsyncStream.makeStream(of: (channel: String, payload: String).self)
        var listener: PostgresListener?
        while listener == nil, !nodeDone {
            do {
                listener = try await shared.listen(
                    channels: [Self.queuedChannel, Self.cancelChannel, shared.changesChannel], handler: { inbox.yield($0) },
                    onReconnect: { [self] in
                        state.lock.withLock { state.claimWanted = true }
                        changes.broadcast()
                        inbox.yield((channel: shared.changesChannel, payload: ""))  // notifications were missed: read them all
                    })
            } catch {
                logger.warning("listening for other nodes failed; retrying", metadata: ["error": "\(error)"])
                await changes.wait(timeout: configuration.heartbeat, cancellable: false) { [self] in nodeDone }
            }
        }
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in
                await changes.wait(timeout: nil, cancellable: false) { [self] in nodeDone }
                inbox.finish()
            }
            for await notification in notifications { await handle(notification, shared) }
        }
        await listener?.stop()
    }

    private func handle(_ notification: (channel: String, payload: String), _ shared: any SharedJobStore) async {
        switch notification.channel {
        case shared.changesChannel:
            await catchUpChanges(shared, notified: Int64(notification.payload))
        case Self.cancelChannel:
            let parts = notification.payload.split(separator: " ")
            guard let id = parts.first.map(String.init), state.lock.withLock({ state.live[id] != nil }) else { return }
            if let (reason, error) = Self.groupCancel(in: notification.payload) {
                await cancelLocalJobs([id], groupID: "", reason: reason, error: error)
            } else {
                _ = try? await cancel(id, grace: parts.count > 1 ? Double(parts[1]) : nil)
            }
        default:
            state.lock.withLock { state.claimWanted = true }
            changes.broadcast()
        }
    }

    /// Publishes the changes other nodes committed that this node has not published yet
    /// (`GET /v1/events`, webhook wake-ups). A failure is logged: the next notification or
    /// heartbeat tries again from the same change.
    private func catchUpChanges(_ shared: any SharedJobStore, notified: Int64?) async {
        do { try await shared.catchUpChanges(notified: notified) } catch {
            logger.warning("reading other nodes' changes failed; retrying at the next heartbeat", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Jobs another node holds

    /// Reads the job from the store until it is terminal or `timeout` seconds have passed.
    func waitInStore(_ id: String, timeout: Double) async throws(EngineError) -> Job? {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int64(timeout * 1000))
        while true {
            guard let job = try await job(id) else { return nil }
            if job.state.isTerminal || clock.now >= deadline { return job }
            if state.lock.withLock({ state.live[id] != nil }) { return try await wait(id, timeout: timeout) }
            await AsyncCondition.sleep(0.05)
        }
    }

    /// Stores the jobs of `ids` that are queued and unclaimed `cancelled` (with `error`), in one
    /// commit, each with the timeline a cancelled queued job has on every store
    /// (`cancel_requested` with `reason`, then `finished`) and its change-feed entry; returns
    /// them (not those some node claimed meanwhile, nor terminal ones).
    func cancelUnclaimed(_ shared: any SharedJobStore, _ ids: [String], reason: String, error: String?) async throws -> [JobRecord] {
        let now = Timestamp.now()
        let events = [
            JobEvent(.cancelRequested, at: now, [.init("reason", .string(reason))]),
            JobEvent(.finished, at: now, [.init("state", .string(JobState.cancelled.rawValue))]),
        ]
        return try await shared.cancelUnclaimed(ids, at: now, error: error, events: events)
    }

    /// Cancels a job this node does not hold: a queued one nobody claimed, here; a running one is
    /// stored `cancelling` here and its holder told, which starts the ladder at once (and stores
    /// `cancelling` again, then the outcome); a queued one another node claimed, by its holder,
    /// waiting (at most 10 s) for the answer it stores.
    func cancelElsewhere(_ shared: any SharedJobStore, _ record: JobRecord, grace: Double?) async throws(EngineError) -> Job {
        do {
            if record.state == .queued, record.owner == nil, let cancelled = try await cancelUnclaimed(shared, [record.id], reason: "delete", error: nil).first {
                logger.info("cancel requested", metadata: ["job.id": "\(record.id)", "state": "queued"])
                return cancelled.job
            }
            let payload = grace.map { "\(record.id) \($0)" } ?? record.id
            if let cancelling = try await shared.requestCancel(record.id, channel: Self.cancelChannel, payload: payload) {
                logger.info("cancel requested", metadata: ["job.id": "\(record.id)", "node": "\(record.owner ?? "null")"])
                return cancelling.job
            }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while clock.now < deadline {
                guard let job = try await store.get(record.id)?.job else { throw EngineError.notFound(record.id) }
                if job.state != .running, job.state != .queued { return job }
                if job.state == .queued, job.node == nil, let cancelled = try await cancelUnclaimed(shared, [record.id], reason: "delete", error: nil).first {
                    return cancelled.job  // released by a node that stopped meanwhile
                }
                await AsyncCondition.sleep(0.01)
            }
            return try await store.get(record.id)?.job ?? record.job
        } catch let error as EngineError {
            throw error
        } catch {
            throw .storeUnavailable("\(error)")
        }
    }
}
