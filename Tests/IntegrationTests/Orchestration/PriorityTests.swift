import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// Job priorities through the real jobsd: with one running slot held by a blocker, the queued
/// jobs start highest priority first, in submission order within a priority; age raises a
/// waiting job's effective priority (`--priority-aging`), so an old low-priority job is not
/// starved; a job waiting on its concurrency key holds up no other; the order survives a restart
/// and holds on PostgreSQL.
@Suite struct PriorityTests {
    /// Submits a blocker (holds the only slot until `<scratch>/go` exists), then `jobs` (name,
    /// priority) that each append their name to `<scratch>/order`; returns the submitted jobs.
    static func queue(_ client: JobsdClient, _ jobs: [(String, Int)], scratch: String) async throws -> (blocker: Job, jobs: [Job]) {
        let blocker = try await client.submit(JobSpec(command: Scripts.blockUntil(scratch + "/go")))
        try await client.waitForOutput(blocker.id, "ready")
        var submitted: [Job] = []
        for (name, priority) in jobs {
            submitted.append(try await client.submit(JobSpec(command: Scripts.record(name, to: scratch + "/order"), priority: priority)))
        }
        return (blocker, submitted)
    }

    static func waitAll(_ client: JobsdClient, _ jobs: [Job]) async throws {
        for job in jobs { #expect(try await client.wait(job.id, timeout: 60).state == .succeeded) }
    }

    static let mixed = [("a0", 0), ("b10", 10), ("c-5", -5), ("d10", 10), ("e100", 100), ("f0", 0)]
    static let mixedOrder = ["e100", "b10", "d10", "a0", "f0", "c-5"]

    @Test func queuedJobs_StartHighestPriorityFirst_FIFOWithinAPriority() async throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await TestServer.with({ $0.engine.maxRunning = 1 }) { server in
            let client = server.client()
            let (_, jobs) = try await Self.queue(client, Self.mixed, scratch: scratch)
            #expect(jobs.map(\.priority) == Self.mixed.map(\.1), "the job shows its priority")
            touch(scratch + "/go")
            try await Self.waitAll(client, jobs)
            #expect(lines(scratch + "/order") == Self.mixedOrder)
            let submitted = try await JobctlTests().jobctl(["submit", "--priority=-7", "--", "true"], url: server.baseURL)
            let id = submitted.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await client.job(id).priority == -7, "\(submitted.output)")
            for bad in ["101", "-101", "1.5", "\"high\""] {
                let response = try await server.send("POST", "/v1/jobs", body: #"{"command":["true"],"priority":\#(bad)}"#)
                #expect(response.status == 400)
                #expect(try decodeProblem(response).field == "priority")
            }
        }
    }

    @Test func anOldLowPriorityJob_StartsBeforeAStreamOfNewerHighOnes() async throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // 5 ms of waiting per level: 100 levels are worth half a second.
        try await TestServer.with({ $0.engine.maxRunning = 1; $0.engine.priorityAging = 0.005 }) { server in
            let client = server.client()
            let (_, early) = try await Self.queue(client, [("low", 0), ("high1", 100)], scratch: scratch)
            let low = early[0]
            // Newer high-priority jobs, submitted once `low` has waited longer than 100 levels.
            try await eventually("low waiting 0.7 s") { Timestamp.now().milliseconds > low.createdAt.milliseconds + 700 }
            var stream: [Job] = []
            for i in 2...4 {
                stream.append(try await client.submit(JobSpec(command: Scripts.record("high\(i)", to: scratch + "/order"), priority: 100)))
            }
            touch(scratch + "/go")
            let all = early + stream
            try await Self.waitAll(client, all)
            let order = lines(scratch + "/order")
            // The documented rule, from the jobs' own created_at: rank = created_at ms − priority × 5.
            let names = ["low", "high1", "high2", "high3", "high4"]
            let expected = zip(names, all).sorted { a, b in
                let (x, y) = (a.1.rank(agingMilliseconds: 5), b.1.rank(agingMilliseconds: 5))
                return x != y ? x < y : a.1.id < b.1.id
            }.map(\.0)
            #expect(order == expected)
            #expect(order.firstIndex(of: "low")! < order.firstIndex(of: "high2")!, "low was starved: \(order)")
        }
    }

    @Test func aHighPriorityJobWaitingOnItsKey_DoesNotHoldUpOthers() async throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await TestServer.with({ $0.engine.maxRunning = 2 }) { server in
            let client = server.client()
            let holder = try await client.submit(JobSpec(command: Scripts.blockUntil(scratch + "/key"), concurrencyKey: "k"))
            try await client.waitForOutput(holder.id, "ready")
            _ = try await Self.queue(client, [], scratch: scratch)
            let keyed = try await client.submit(JobSpec(command: Scripts.record("keyed", to: scratch + "/order"), concurrencyKey: "k", priority: 100))
            let plain = try await client.submit(JobSpec(command: Scripts.record("plain", to: scratch + "/order"), priority: -100))
            touch(scratch + "/go")
            #expect(try await client.wait(plain.id, timeout: 60).state == .succeeded)
            #expect(try await client.job(keyed.id).state == .queued, "the keyed job waits for its key")
            touch(scratch + "/key")
            #expect(try await client.wait(keyed.id, timeout: 60).state == .succeeded)
            #expect(lines(scratch + "/order") == ["plain", "keyed"])
        }
    }

    @Test func thePriorityOrder_HoldsAcrossARestart() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-priority")
        let scratch = try scratchDirectory()
        defer {
            TemporaryDirectory.remove(data)
            try? FileManager.default.removeItem(atPath: scratch)
        }
        let first = try await JobsdProcess.start(dataDirectory: data, arguments: ["--max-running", "1"])
        let (_, jobs) = try await Self.queue(first.client(), Self.mixed, scratch: scratch)
        await first.signal(SIGKILL)
        _ = await first.waitForExit()
        // The blocker was interrupted; the queued jobs start again in priority order.
        let second = try await JobsdProcess.start(dataDirectory: data, arguments: ["--max-running", "1"])
        defer { second.child.signal(SIGKILL) }
        #expect(try await second.client().job(jobs[4].id).priority == 100)
        try await Self.waitAll(second.client(), jobs)
        #expect(lines(scratch + "/order") == Self.mixedOrder)
    }

    @Test func onPostgreSQL_NodesClaimInPriorityOrder() async throws {
        let url = try await TestPostgres.freshDatabaseURL()
        let data = try TemporaryDirectory.make(prefix: "jobsd-priority-pg")
        let scratch = try scratchDirectory()
        defer {
            TemporaryDirectory.remove(data)
            try? FileManager.default.removeItem(atPath: scratch)
        }
        let node = try await JobsdProcess.start(dataDirectory: data, arguments: ["--max-running", "1", "--store", url])
        defer { node.child.signal(SIGKILL) }
        let (_, jobs) = try await Self.queue(node.client(), Self.mixed, scratch: scratch)
        touch(scratch + "/go")
        try await Self.waitAll(node.client(), jobs)
        #expect(lines(scratch + "/order") == Self.mixedOrder)
    }
}
