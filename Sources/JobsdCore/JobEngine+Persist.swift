import JobsdStore
import Logging

extension JobEngine {
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

    /// Stores the job's current record (running with pid, cancelling). Failures are logged: the
    /// job goes on, and its final record is retried in `finish`.
    func persist(_ live: LiveJob, logger: Logger) async {
        let (record, ticket) = state.lock.withLock { takeWrite(live) }
        await storeInTurn(live, record, ticket: ticket, attempts: 1, logger: logger)
    }

    /// Stores the `cancelling` record unless that write was already issued (by `cancel`); for
    /// cancels that do not come through `cancel` (shutdown).
    func persistCancellingIfNeeded(_ live: LiveJob, logger: Logger) async {
        let write = state.lock.withLock { live.record.job.state == .cancelling && live.cancelWrite == 0 ? takeWrite(live) : nil }
        if let write { await storeInTurn(live, write.record, ticket: write.ticket, attempts: 1, logger: logger) }
    }

    /// Stores `record` (write number `ticket`) once every earlier write of the job has finished,
    /// trying up to `attempts` times with a growing pause (a terminal state must be durable before
    /// it is reported; after the last attempt it is logged and reported anyway, so the engine does
    /// not hang). A write refused because another node took the job over (`leaseLost`) is not
    /// retried: the job's processes are killed at once instead. Not cancellable.
    func storeInTurn(_ live: LiveJob, _ record: JobRecord, ticket: UInt64, attempts: Int, logger: Logger) async {
        await live.writeTurns.wait(timeout: nil, cancellable: false) { [self] in state.lock.withLock { live.writesDone == ticket - 1 } }
        var delay = 0.05
        for attempt in 1...attempts {
            do {
                try await store.update(record)
                break
            } catch JobStoreError.leaseLost {
                // Another node rescued the job: stop its processes at once; no later write of
                // this node overwrites the rescuer's state (the store refuses them).
                logger.warning("lease lost: another node took this job over; killing its processes")
                live.watch.requestStop(grace: 0)
                break
            } catch {
                logger.error("storing the job failed", metadata: [
                    "error": "\(error)", "state": "\(record.state.rawValue)", "attempt": "\(attempt)",
                ])
                if attempt < attempts {
                    await AsyncCondition.sleep(delay)
                    delay *= 2
                }
            }
        }
        state.lock.withLock { live.writesDone = ticket }
        live.writeTurns.broadcast()
    }

    /// Stores a terminal record (write number `ticket`), retrying a few times.
    func storeFinal(_ live: LiveJob, _ record: JobRecord, ticket: UInt64, logger: Logger) async {
        await storeInTurn(live, record, ticket: ticket, attempts: 6, logger: logger)
    }
}
