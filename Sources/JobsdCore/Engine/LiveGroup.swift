import JobsdAPI
import JobsdStore

/// A group the engine holds in memory from creation (or recovery) until its last job is terminal.
///
/// Every `var` is guarded by the engine's `EngineState.lock`.
final class LiveGroup: @unchecked Sendable {
    var record: GroupRecord
    /// States of its jobs that are terminal, by id.
    var terminal: [String: JobState]
    /// On a shared store: the states last read from the store of its jobs other nodes hold.
    var seen: [String: JobState] = [:]
    /// Broadcast when the group becomes terminal.
    let changes = AsyncCondition()
    /// Its final record is being stored (set once, by whichever job ended last).
    var finishing = false
    /// Its final record is stored; it is no longer in the engine's table.
    var done = false

    init(record: GroupRecord, terminal: [String: JobState]) {
        self.record = record
        self.terminal = terminal
    }

    var isComplete: Bool { terminal.count >= record.group.jobs.count }

    /// The group's state once every job is terminal: `cancelled` when a DELETE of the group came
    /// before any failure, `succeeded` when all succeeded, else `failed`.
    var finalState: GroupState {
        if record.cancelRequestedAt != nil, record.failedBy == nil { return .cancelled }
        return terminal.values.allSatisfy { $0 == .succeeded } ? .succeeded : .failed
    }
}
