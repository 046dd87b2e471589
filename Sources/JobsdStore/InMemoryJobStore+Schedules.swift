import JobsdAPI

extension InMemoryJobStore: ScheduleStore {
    public func changeSchedule(_ change: ScheduleChange) throws -> Bool {
        guard !closed else { throw JobStoreError.unavailable("store is closed") }
        switch change {
        case let .insert(schedule):
            guard scheduleTable[schedule.id] == nil else { throw JobStoreError.duplicateID(schedule.id) }
            scheduleTable[schedule.id] = schedule
            return true
        case let .delete(id):
            return scheduleTable.removeValue(forKey: id) != nil
        case let .setPaused(id, paused, next):
            guard scheduleTable[id] != nil else { return false }
            scheduleTable[id]!.paused = paused
            scheduleTable[id]!.nextRunAt = next
            return true
        case let .advance(id, expected, next, ranAt):
            guard let s = scheduleTable[id], !s.paused, s.nextRunAt == expected else { return false }
            scheduleTable[id]!.nextRunAt = next
            if let ranAt { scheduleTable[id]!.lastRunAt = ranAt }
            return true
        case let .recordRun(id, jobID):
            guard scheduleTable[id] != nil else { return false }
            scheduleTable[id]!.lastJobID = jobID
            return true
        }
    }

    public func schedules() -> [Schedule] { scheduleTable.values.sorted { $0.id < $1.id } }

    public func schedule(_ id: String) -> Schedule? { scheduleTable[id] }
}
