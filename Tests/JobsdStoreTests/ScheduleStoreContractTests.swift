import JobsdAPI
import JobsdStore
import Testing

/// The `ScheduleStore` contract, run against every implementation: schedules round-trip whole;
/// a tick is claimed once (`advance` from the same `next_run_at`), never while paused; runs of a
/// schedule are listed by `JobQuery.scheduleID`.
@Suite struct ScheduleStoreContractTests {
    private func schedule(_ n: Int, paused: Bool = false) -> Schedule {
        Schedule(
            id: jobID(n), name: "s\(n)", cron: "*/5 * * * *", timezone: "Europe/Berlin",
            job: JobSpec(command: ["echo", "x y"], env: ["K": "v"], timeoutSeconds: 5, labels: ["a": "b"], retry: RetryPolicy(maxAttempts: 2)),
            overlap: .cancelPrevious, paused: paused, createdAt: Timestamp(milliseconds: 1_000), nextRunAt: Timestamp(milliseconds: 300_000))
    }

    @Test(arguments: StoreFactory.all)
    func aSchedule_RoundTrips_AndIsChangedOnlyThroughItsOperations(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let schedules = try #require(store as? any ScheduleStore)
            #expect(try await schedules.changeSchedule(.insert(schedule(2))))
            #expect(try await schedules.changeSchedule(.insert(schedule(1, paused: true))))
            await #expect(throws: JobStoreError.duplicateID(jobID(1))) { try await schedules.changeSchedule(.insert(schedule(1))) }
            #expect(try await schedules.schedules() == [schedule(1, paused: true), schedule(2)], "oldest (lowest id) first")
            #expect(try await schedules.schedule(jobID(2)) == schedule(2))
            #expect(try await schedules.schedule(jobID(3)) == nil)

            #expect(try await schedules.changeSchedule(.recordRun(id: jobID(2), jobID: "J")))
            #expect(try await schedules.changeSchedule(.setPaused(id: jobID(1), paused: false, nextRunAt: Timestamp(milliseconds: 600_000))))
            var resumed = schedule(1)
            resumed.nextRunAt = Timestamp(milliseconds: 600_000)
            #expect(try await schedules.schedule(jobID(1)) == resumed)
            #expect(try await schedules.schedule(jobID(2))?.lastJobID == "J")
            #expect(try await !schedules.changeSchedule(.recordRun(id: jobID(3), jobID: "J")), "unknown id")
            #expect(try await schedules.changeSchedule(.delete(id: jobID(1))))
            #expect(try await !schedules.changeSchedule(.delete(id: jobID(1))))
            #expect(try await schedules.schedules().map(\.id) == [jobID(2)])
        }
    }

    @Test(arguments: StoreFactory.all)
    func aTick_IsClaimedOnce_AndNeverWhilePaused(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            let schedules = try #require(store as? any ScheduleStore)
            _ = try await schedules.changeSchedule(.insert(schedule(1)))
            let tick = Timestamp(milliseconds: 300_000), next = Timestamp(milliseconds: 600_000), ran = Timestamp(milliseconds: 300_010)
            let claims = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 {
                    group.addTask { (try? await schedules.changeSchedule(.advance(id: jobID(1), expected: tick, next: next, ranAt: ran))) ?? false }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(claims.filter { $0 }.count == 1, "exactly one of eight concurrent claims: \(claims)")
            let claimed = try #require(try await schedules.schedule(jobID(1)))
            #expect(claimed.nextRunAt == next && claimed.lastRunAt == ran)

            // Re-aimed without a run: last_run_at stays.
            #expect(try await schedules.changeSchedule(.advance(id: jobID(1), expected: next, next: tick, ranAt: nil)))
            #expect(try await schedules.schedule(jobID(1))?.lastRunAt == ran)
            _ = try await schedules.changeSchedule(.setPaused(id: jobID(1), paused: true, nextRunAt: tick))
            #expect(try await !schedules.changeSchedule(.advance(id: jobID(1), expected: tick, next: next, ranAt: ran)), "paused")
        }
    }

    @Test(arguments: StoreFactory.all)
    func theRunsOfASchedule_AreListedByItsID(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store async throws in
            var run = JobRecord.make(1)
            run.job.scheduleID = "S1"
            _ = try await store.insert(run)
            _ = try await store.insert(.make(2))
            var other = JobRecord.make(3)
            other.job.scheduleID = "S2"
            _ = try await store.insert(other)
            #expect(try await store.list(JobQuery(scheduleID: "S1")).map(\.id) == [run.id])
            #expect(try await store.get(run.id)?.job.scheduleID == "S1")
            #expect(try await store.get(jobID(2))?.job.scheduleID == nil)
        }
    }
}
