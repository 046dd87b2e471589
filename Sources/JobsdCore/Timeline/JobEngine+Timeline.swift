import JobsdAPI
import JobsdStore

extension JobEngine {
    // MARK: - The termination timeline

    /// Notes an event of the job's timeline (CONTRACT.md, "The termination timeline") with the
    /// next `seq`. It is stored with the job's next record write (`takeWrite`, `takeEvents`), in
    /// the same transaction, so the timeline costs no write of its own; until then `events(_:)`
    /// shows it from memory. Caller holds the engine lock.
    func note(_ live: LiveJob, _ type: JobEvent.Kind, at: Timestamp = .now(), _ fields: [JobEvent.Field] = []) {
        live.lastEventSeq += 1
        live.events.append(JobEvent(type, at: at, seq: live.lastEventSeq, fields))
    }

    /// The `started` event's `node` field on a shared store (the node that runs the job); none on
    /// a store one node owns.
    var nodeField: [JobEvent.Field] { shared == nil ? [] : [.init("node", .string(configuration.nodeID))] }

    /// The events noted since the previous write took its share, for the write being issued.
    /// Caller holds the engine lock.
    func takeEvents(_ live: LiveJob) -> [JobEvent] {
        let taken = live.events.filter { $0.seq > live.eventsTaken }
        live.eventsTaken = live.lastEventSeq
        return taken
    }

    /// The job's timeline, oldest first; nil for an unknown id. A job in memory shows the events
    /// not yet stored too: those noted before the store is read are either still in memory or
    /// already stored (they leave memory only once stored), so the union has no gap.
    public func events(_ id: String) async throws(EngineError) -> [JobEvent]? {
        let unstored = state.lock.withLock { state.live[id]?.events }
        let stored: [JobEvent]
        do { stored = try await store.events(of: id) } catch { throw .storeUnavailable("\(error)") }
        if unstored == nil, stored.isEmpty {
            // A job stored before timelines existed has none; an unknown id has no job either.
            guard try await job(id) != nil else { return nil }
        }
        var bySeq: [Int: JobEvent] = [:]
        for event in stored + (unstored ?? []) { bySeq[event.seq] = event }
        return bySeq.values.sorted { $0.seq < $1.seq }
    }
}

extension JobEvent {
    /// `exited`: the main process's exit code, or the signal that ended it.
    static func exited(_ status: ExitStatus, at: Timestamp) -> JobEvent {
        let field = status.signalName.map { Field("signal", .string($0)) } ?? Field("exit_code", .number(Double(status.exitCode ?? -1)))
        return JobEvent(.exited, at: at, [field])
    }
}
