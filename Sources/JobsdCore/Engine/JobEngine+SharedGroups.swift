import JobsdAPI
import JobsdStore
import Logging

extension JobEngine {
    // MARK: - Groups on a shared store (CONTRACT.md, "Several nodes on PostgreSQL")
    //
    // A group lives on the node that created it (or recovered it after a restart); its jobs run
    // on any node. That node learns of the jobs other nodes ended by reading them from the store
    // every heartbeat, and cancels the ones other nodes hold through them.

    /// Every heartbeat until shutdown, reads the jobs of each group this node holds from the store;
    /// a job found terminal that this node did not run is handled as if it had ended here
    /// (`jobEnded`: the fail_fast cancel, the group's completion), and the group's counts show the
    /// states read. A failed read is tried again at the next heartbeat. Not cancellable.
    func groupWatchLoop(_ shared: any SharedJobStore) async {
        while !state.lock.withLock({ state.shuttingDown }) {
            let groups = state.lock.withLock { Array(state.groups.values) }
            for group in groups {
                let (id, count) = state.lock.withLock { (group.record.id, group.record.group.jobs.count) }
                guard let stored = try? await store.group(id), let records = try? await store.list(JobQuery(limit: count + 1, groupID: id))
                else { continue }
                let ended: [Job] = state.lock.withLock {
                    // A DELETE of the group through another node (`cancelGroupElsewhere`).
                    if group.record.cancelRequestedAt == nil { group.record.cancelRequestedAt = stored.cancelRequestedAt }
                    var ended: [Job] = []
                    for record in records where state.live[record.id] == nil {
                        group.seen[record.id] = record.state
                        if record.state.isTerminal, group.terminal[record.id] == nil {
                            group.terminal[record.id] = record.state
                            ended.append(record.job)
                        }
                    }
                    return ended
                }
                for job in ended.sorted(by: { ($0.finishedAt ?? .now()) < ($1.finishedAt ?? .now()) }) { await jobEnded(job) }
            }
            await changes.wait(timeout: configuration.heartbeat, cancellable: false) { [self] in state.lock.withLock { state.shuttingDown } }
        }
    }

    /// `DELETE /v1/groups/{id}` through a node that does not hold the group: stores the cancel
    /// request in the group's record (its holder adopts it at its next read, so that the group
    /// ends `cancelled`), then cancels every job of the group that is not terminal, wherever it is.
    func cancelGroupElsewhere(_ shared: any SharedJobStore, _ stored: GroupRecord) async throws(EngineError) -> GroupCancelResult {
        var record = stored
        let ids: [String]
        do {
            if record.cancelRequestedAt == nil {
                record.cancelRequestedAt = .now()
                try await writeOnce("group cancel") { try await store.updateGroup(record) }
            }
            ids = try await store.list(JobQuery(limit: record.group.jobs.count + 1, groupID: record.id)).filter { !$0.state.isTerminal }.map(\.id)
        } catch { throw .storeUnavailable("\(error)") }
        logger.info("group cancel requested", metadata: ["group.id": "\(record.id)", "held_by": "another node"])
        let local = state.lock.withLock { ids.filter { state.live[$0] != nil } }
        await cancelElsewhere(shared, ids.filter { !local.contains($0) }, reason: .delete, error: nil)
        await cancelLocalJobs(local, groupID: record.id, reason: .delete, error: nil)
        return .cancelling(record.group)
    }

    /// Cancels jobs of a group that this node does not hold: the queued ones no node claimed are
    /// stored `cancelled` here, all in one commit; each one another node holds is stored
    /// `cancelling` and its holder told, with the reason and the failed job (`cancelPayload`), so
    /// that it cancels it as it would its own group's. Failures are logged (the group's next
    /// DELETE, or its recovery after a restart, cancels what is left).
    func cancelElsewhere(_ shared: any SharedJobStore, _ ids: [String], reason: GroupCancelReason, error: String?) async {
        guard !ids.isEmpty else { return }
        var held = ids
        do {
            let cancelled = Set(try await cancelUnclaimed(shared, ids, reason: reason.rawValue, error: error).map(\.id))
            held.removeAll { cancelled.contains($0) }
        } catch {
            logger.warning("cancelling the unclaimed jobs of a group failed", metadata: ["jobs": "\(ids.count)", "error": "\(error)"])
        }
        for id in held {
            do {
                _ = try await shared.requestCancel(id, channel: Self.cancelChannel, payload: Self.cancelPayload(id, reason: reason, error: error))
            } catch {
                logger.warning("cancelling a job of a group on another node failed", metadata: ["job.id": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// The cancel channel's payload for a job of a group: `<id> - <reason>`, then the error.
    static func cancelPayload(_ id: String, reason: GroupCancelReason, error: String?) -> String {
        "\(id) - \(reason.rawValue)" + (error.map { " \($0)" } ?? "")
    }

    /// A cancel notification for a job of a group (`cancelPayload`): the reason and the error;
    /// nil for a plain one (`<id>` or `<id> <grace>`).
    static func groupCancel(in payload: String) -> (reason: GroupCancelReason, error: String?)? {
        let parts = payload.split(separator: " ", maxSplits: 3)
        guard parts.count >= 3, parts[1] == "-", let reason = GroupCancelReason(rawValue: String(parts[2])) else { return nil }
        return (reason, parts.count > 3 ? String(parts[3]) : nil)
    }
}
