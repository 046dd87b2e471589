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
    func writeOnce<T>(_ what: String, _ write: () async throws -> T) async throws -> T {
        do {
            let result = try await write()
            storeHealth.accepted()
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
    /// every waiting retry tries again at once. Returns early only when `superseded()` says a
    /// later write holds everything this one holds (a newer snapshot of the same record).
    ///
    /// Not cancellable: neither the caller's cancellation nor shutdown stops the retries (a
    /// shutdown waits for them). While it retries it counts in `jobsd_store_writes_pending`.
    func storeDurably(_ what: String, logger: Logger, superseded: () -> Bool = { false }, _ write: () async throws -> Void) async {
        var delay = Self.retryBackoffFirst
        var failures = 0
        defer { if failures > 0 { storeHealth.pendingChanged(by: -1) } }
        while !superseded() {
            do {
                try await writeOnce(what, write)
                return
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
        }
    }

    /// While a store fault lasts and until shutdown, tries `JobStore.probeWrite` with the same
    /// backoff as `storeDurably`, so that a fault begun by a refused submission (nothing pending
    /// to retry) also ends, and `/readyz` turns ready, once the store takes writes again.
    func storeProbeLoop() async {
        func stopping() -> Bool { state.lock.withLock { state.shuttingDown } }
        while true {
            await changes.wait(timeout: nil, cancellable: false) { [self] in stopping() || !storeHealth.isHealthy }
            var delay = Self.retryBackoffFirst
            while !storeHealth.isHealthy, !stopping() {
                await storeHealth.waitForRecovery(atMost: delay)
                if storeHealth.isHealthy { break }
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

    /// The job's record as it is now, with its write number; a snapshot in `cancelling` becomes
    /// the job's cancel write. Caller holds the engine lock.
    func takeWrite(_ live: LiveJob) -> (record: JobRecord, ticket: UInt64) {
        var record = live.record
        record.job = live.currentJob
        let ticket = issueWrite(live)
        if record.state == .cancelling, live.cancelWrite == 0 { live.cancelWrite = ticket }
        return (record, ticket)
    }

    /// Stores the job's current record (running with pid, cancelling).
    func persist(_ live: LiveJob, logger: Logger) async {
        let (record, ticket) = state.lock.withLock { takeWrite(live) }
        await storeInTurn(live, record, ticket: ticket, logger: logger)
    }

    /// Stores the `cancelling` record unless that write was already issued (by `cancel`); for
    /// cancels that do not come through `cancel` (shutdown).
    func persistCancellingIfNeeded(_ live: LiveJob, logger: Logger) async {
        let write = state.lock.withLock { live.record.job.state == .cancelling && live.cancelWrite == 0 ? takeWrite(live) : nil }
        if let write { await storeInTurn(live, write.record, ticket: write.ticket, logger: logger) }
    }

    /// Stores `record` (write number `ticket`) once every earlier write of the job has finished,
    /// under `storeDurably`'s rule: a terminal record is retried until stored (it must be durable
    /// before it is reported); a non-terminal one (running, cancelling) until stored or until a
    /// later snapshot of the job was issued (which holds everything it held, and is stored in
    /// turn). Not cancellable.
    func storeInTurn(_ live: LiveJob, _ record: JobRecord, ticket: UInt64, logger: Logger) async {
        await live.writeTurns.wait(timeout: nil, cancellable: false) { [self] in state.lock.withLock { live.writesDone == ticket - 1 } }
        await storeDurably("job record (\(record.state.rawValue))", logger: logger, superseded: { [self] in
            state.lock.withLock { live.writesIssued > ticket }
        }) { try await store.update(record) }
        state.lock.withLock { live.writesDone = ticket }
        live.writeTurns.broadcast()
    }
}
