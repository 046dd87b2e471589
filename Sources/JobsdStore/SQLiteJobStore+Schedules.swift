import JobsdAPI

extension SQLiteJobStore: ScheduleStore {
    /// Committed by the writer like any job write (group commit), durable when it returns.
    public func changeSchedule(_ change: ScheduleChange) async throws -> Bool {
        guard case let .changed(changed) = try await writer.perform(.schedule(change)) else { return false }
        return changed
    }

    public func schedules() async throws -> [Schedule] {
        try await reader.read { try $0.schedules() }
    }

    public func schedule(_ id: String) async throws -> Schedule? {
        try await reader.read { try $0.schedules(id: id) }.first
    }
}
