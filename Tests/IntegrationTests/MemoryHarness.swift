import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// A spawned jobsd (the process that hosts the engine, alone: no test code shares its heap) whose
/// anonymous memory the memory tests read from `/proc/<pid>/smaps_rollup`.
///
/// `--cache-records` is small so that a short warm-up fills every cache jobsd keeps (record cache,
/// encoded terminal bodies, spare workdirs, SQLite's page cache, malloc's arenas); after it, more of
/// the same work must leave memory where it was. Memory, not time, is measured: a slow machine
/// makes the test slower, never red.
struct MemoryHarness {
    let jobsd: JobsdProcess
    let client: JobsdClient

    /// Records kept by the store's cache (and a quarter as many encoded bodies) in memory tests.
    static let cacheRecords = 500

    /// Starts jobsd on a temporary data dir with `arguments`, runs `body`, then kills it and
    /// removes the directory, on success and on failure.
    static func with<T: Sendable>(arguments: [String] = [], _ body: (MemoryHarness) async throws -> T) async throws -> T {
        let data = try TemporaryDirectory.make(prefix: "jobsd-memory")
        defer { TemporaryDirectory.remove(data) }
        let jobsd = try await JobsdProcess.start(
            dataDirectory: data, arguments: ["--cache-records", "\(cacheRecords)", "--log-level", "info"] + arguments)
        defer { jobsd.child.signal(SIGKILL) }
        return try await body(MemoryHarness(jobsd: jobsd, client: jobsd.client()))
    }

    /// jobsd's anonymous memory (heap, thread stacks, anonymous mappings) in KiB.
    func anonymousKiB() throws -> Int {
        let text = try String(contentsOfFile: "/proc/\(jobsd.child.pid)/smaps_rollup", encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix("Anonymous:") {
            if let kib = Int(line.split(separator: " ")[1]) { return kib }
        }
        throw TestFailure("no Anonymous line in smaps_rollup:\n\(text)")
    }

    /// Runs `iteration(client, i)` for every i in `range`, on `concurrency` tasks.
    func run(
        _ range: Range<Int>, concurrency: Int, _ iteration: @escaping @Sendable (JobsdClient, Int) async throws -> Void
    ) async throws {
        let client = client
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<concurrency {
                group.addTask {
                    for i in stride(from: range.lowerBound + lane, to: range.upperBound, by: concurrency) {
                        try await iteration(client, i)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Returns once at most `activeJobs` jobs are queued, running or cancelling (read from
    /// `/metrics`).
    func waitUntilIdle(activeJobs: Int = 0) async throws {
        let busy = ["queued", "running", "cancelling"].map { "jobsd_jobs{state=\"\($0)\"}" }
        for _ in 0..<6000 {
            let text = try await client.transport.send(ClientRequest(path: "/metrics")).text
            let active = text.split(separator: "\n").reduce(0.0) { sum, line in
                guard busy.contains(where: { line.hasPrefix($0 + " ") }), let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { return sum }
                return sum + value
            }
            if active <= Double(activeJobs) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("jobsd still has active jobs after 120 s")
    }

    /// Runs `warmUp` iterations, waits until jobsd is idle (but for `activeJobs`) and reads its
    /// anonymous memory, runs `measured` more, waits until idle and reads it again.
    func growth(
        warmUp: Int, measured: Int, concurrency: Int = 8, activeJobs: Int = 0,
        _ iteration: @escaping @Sendable (JobsdClient, Int) async throws -> Void
    ) async throws -> MemoryGrowth {
        try await run(0..<warmUp, concurrency: concurrency, iteration)
        try await waitUntilIdle(activeJobs: activeJobs)
        let before = try anonymousKiB()
        try await run(warmUp..<(warmUp + measured), concurrency: concurrency, iteration)
        try await waitUntilIdle(activeJobs: activeJobs)
        let growth = MemoryGrowth(beforeKiB: before, afterKiB: try anonymousKiB(), iterations: measured)
        print("jobsd memory: \(growth)")
        return growth
    }
}

/// jobsd's anonymous memory before and after `iterations` more of the same work.
struct MemoryGrowth: CustomStringConvertible {
    var beforeKiB: Int
    var afterKiB: Int
    var iterations: Int

    var grownKiB: Int { afterKiB - beforeKiB }

    var description: String {
        let perIteration = Double(grownKiB) / Double(max(iterations, 1))
        return "anonymous memory \(beforeKiB) KiB -> \(afterKiB) KiB over \(iterations) iterations "
            + "(\(String(format: "%+.3f", perIteration)) KiB each)"
    }
}
