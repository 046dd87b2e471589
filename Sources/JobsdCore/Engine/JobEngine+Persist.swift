import JobsdAPI
import JobsdStore
import Logging

extension JobEngine {
    // MARK: - The write rule

    /// The pause before the first retry of a refused write; it doubles per refusal up to
    /// `retryBackoffCap`.
    static let retryBackoffFirst = 0.05
    static let retryBackoffCap = 5.0

    /// Runs one write of the store once, recording its success or refusal in `storeHealth` (which
    /// drives `/readyz`, the fault's log lines and `jobsd_store_write_errors_total`). For writes
    /// whose caller tells the client about a refusal (a POST answered 503, a queued job's cancel,
    /// the retention sweep that runs again later). Every store write of the engine goes through
    /// here or through `storeDurably`.
    ///
    /// `wroteSomething`: whether the result shows that something reached the store; a write that
    /// changed nothing (a retention sweep with nothing to purge) commits even on a full disk, so
    /// it proves nothing and does not end a fault.
    func writeOnce<T>(_ what: String, wroteSomething: (T) -> Bool = { _ in true }, _ write: () async throws -> T) async throws -> T {
        do {
            let result = try await write()
            if wroteSomething(result) { storeHealth.accepted() }
            return result
        } catch {
            storeHealth.refused(error, writing: what)
            throw error
        }
    }

    /// THE rule for what already happened (issue #22): a write the store refuses is kept and
    /// retried, with a pause of `retryBackoffFirst` doubling to `retryBackoffCap`, for as long as
    /// the process lives, and this returns only once the store took it — callers report nothing
    /// (terminal state, cleanup result) before that. When the fault ends (any write succeeds)
    /// every waiting retry tries again at once. After a refusal it gives up only when
    /// `superseded()` says this write no longer matters (a later write holds everything it held).
    ///
    /// Not cancellable: neither the caller's cancellation nor shutdown stops the retries (a
    /// shutdown waits for them). While it retries it counts in `jobsd_store_writes_pending`.
    /// Returns whether the store took the write (false: it was superseded first).
    @discardableResult
    func storeDurably(_ what: String, logger: Logger, superseded: () -> Bool = { false }, _ write: () async throws -> Void) async -> Bool {
        var delay = Self.retryBackoffFirst
        var failures = 0
        defer { if failures > 0 { storeHealth.pendingChanged(by: -1) } }
        repeat {
            do {
                try await writeOnce(what, write)
                return true
            } catch {
                failures += 1
                if failures == 1 {
                    storeHealth.pendingChanged(by: 1)
                    logger.warning("storing failed; kept and retried until the store takes it", metadata: [
                        "error": "\(error)", "write": "\(what)",
                    ])
                }
                await storeHealth.waitForRecovery(atMost: delay)
                delay = min(delay * 2, Self.retryBackoffCap)
            }
        } while !superseded()
        return false
    }

    /// While a store fault lasts with no refused write waiting to be retried (say it began with a
    /// refused submission), and until shutdown, tries `JobStore.probeWrite` with the same backoff
    /// as `storeDurably`, so that the fault ends, and `/readyz` turns ready, once the store takes
    /// writes again. While writes wait, their retries are the probes: a probe that fits where they
    /// do not must not end the fault (it would begin again with their next refusal, and their
    /// retries would no longer back off).
    func storeProbeLoop() async {
        func stopping() -> Bool { state.lock.withLock { state.shuttingDown } }
        while true {
            await changes.wait(timeout: nil, cancellable: false) { [self] in stopping() || storeHealth.needsProbe }
            var delay = Self.retryBackoffFirst
            while storeHealth.needsProbe, !stopping() {
                await storeHealth.waitForRecovery(atMost: delay)
                guard storeHealth.needsProbe else { break }
                _ = try? await writeOnce("probe") { try await store.probeWrite() }
                delay = min(delay * 2, Self.retryBackoffCap)
            }
            if stopping() { return }
        }
    }

    // MARK: - Storing a job's record

    /// Numbers the next write of the job's record. Caller holds the engine lock and takes the
    /// record's snapshot in the same critical section.
    func issueWrite(_ live: LiveJob) -> UInt64 {
        live.writesIssued += 1
        return live.writesIssued
    }

    /// The job's record as it is now, with its write number and the timeline events noted since
    /// the previous write; a snapshot in `cancelling` becomes the job's cancel write. Caller holds
    /// the engine lock.
    func takeWrite(_ live: LiveJob) -> JobWrite {
        var record = live.record
        record.job = live.currentJob
        let ticket = issueWrite(live)
        if record.state == .cancelling, live.cancelWrite == 0 { live.cancelWrite = ticket }
        return JobWrite(record: record, ticket: ticket, events: takeEvents(live))
    }

    /// Stores the job's current record (running with pid, cancelling).
    func persist(_ live: LiveJob, logger: Logger) async {
        let write = state.lock.withLock { takeWrite(live) }
        await storeInTurn(live, write, logger: logger)
    }

    /// Stores the `cancelling` record unless that write was already issued (by `cancel`); for
    /// cancels that do not come through `cancel` (shutdown).
    func persistCancellingIfNeeded(_ live: LiveJob, logger: Logger) async {
        let write = state.lock.withLock { live.record.job.state == .cancelling && live.cancelWrite == 0 ? takeWrite(live) : nil }
        if let write { await storeInTurn(live, write, logger: logger) }
    }

    /// Stores `record` (write number `ticket`) once every earlier write of the job has finished,
    /// under `storeDurably`'s rule: a terminal record, and the `queued` one of a retry (the job's
    /// `ending`), is retried until stored (it must be durable before it is reported). Another one (running with its pid, cancelling) is retried
    /// until stored, or until a later snapshot of the job was issued, or the job's main process
    /// ended or was asked to stop: from then on its final record, retried until stored, follows,
    /// and supervision (the ladder, the cleanup) must not wait for a store fault to end. Its
    /// caller waits at most one backoff step (≤ `retryBackoffCap`) after that. A write refused
    /// because another node took the job over (`leaseLost`) is not retried: the job's processes
    /// are killed at once instead. The timeline events of a superseded write are not lost: they
    /// stay in memory (`LiveJob.carriedEvents`) and go into the next write's transaction, until
    /// one is stored. Not cancellable.
    func storeInTurn(_ live: LiveJob, _ write: JobWrite, logger: Logger) async {
        let (record, ticket) = (write.record, write.ticket)
        await live.writeTurns.wait(timeout: nil, cancellable: false) { [self] in state.lock.withLock { live.writesDone == ticket - 1 } }
        // The job's ending (terminal, or queued again for its retry) is the last write of its stay
        // in the engine: nothing later would carry it, so it is kept until stored.
        let (events, ending) = state.lock.withLock { (live.carriedEvents + write.events, live.ending.map { $0.state == record.state } ?? false) }
        let final = record.state.isTerminal || ending
        let stored = await storeDurably("job record (\(record.state.rawValue))", logger: logger, superseded: { [self] in
            if state.lock.withLock({ live.writesIssued > ticket }) { return true }
            let watched = live.watch.snapshot
            return !final && (watched.status != nil || watched.stopGrace != nil)
        }) {
            do {
                if write.synced { try await store.update(record, events: events) } else { try await store.updateUnsynced(record, events: events) }
            } catch JobStoreError.leaseLost {
                // Another node rescued the job: stop its processes at once; no later write of this
                // node overwrites the rescuer's state (the store refuses them).
                logger.warning("lease lost: another node took this job over; killing its processes")
                live.watch.requestStop(grace: 0)
            }
        }
        state.lock.withLock {
            live.writesDone = ticket
            if !stored {
                live.carriedEvents = events
            } else {
                live.carriedEvents = []
                if let last = events.last?.seq { live.events.removeAll { $0.seq <= last } }
            }
        }
        live.writeTurns.broadcast()
    }
}

/// One write of a job's record: the snapshot, its turn (`LiveJob.writesIssued`), and the timeline
/// events that go into the same transaction.
struct JobWrite: Sendable {
    var record: JobRecord
    var ticket: UInt64
    var events: [JobEvent]
    /// false: `JobStore.updateUnsynced` (a `cancelling` record whose terminal one follows).
    var synced = true
}
