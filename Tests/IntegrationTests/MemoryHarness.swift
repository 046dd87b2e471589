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
    /// removes the directory, on success and on failure. With `dataDirectory` jobsd starts on
    /// that one instead (the caller removes it).
    static func with<T: Sendable>(
        dataDirectory: String? = nil, arguments: [String] = [], _ body: (MemoryHarness) async throws -> T
    ) async throws -> T {
        let data = try dataDirectory ?? TemporaryDirectory.make(prefix: "jobsd-memory")
        defer { if dataDirectory == nil { TemporaryDirectory.remove(data) } }
        let jobsd = try await JobsdProcess.start(
            dataDirectory: data, arguments: ["--cache-records", "\(cacheRecords)", "--log-level", "info"] + arguments)
        defer { jobsd.child.signal(SIGKILL) }
        return try await body(MemoryHarness(jobsd: jobsd, client: jobsd.client()))
    }

    /// jobsd's anonymous memory (heap, thread stacks, anonymous mappings) in KiB.
    func anonymousKiB() throws -> Int { try rollup("Anonymous") }

    /// jobsd's resident memory (RSS) in KiB.
    func residentKiB() throws -> Int { try rollup("Rss") }

    /// One field of `/proc/<pid>/smaps_rollup`, in KiB.
    private func rollup(_ field: String) throws -> Int {
        let text = try String(contentsOfFile: "/proc/\(jobsd.child.pid)/smaps_rollup", encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            if let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) { return kib }
        }
        throw TestFailure("no \(field) line in smaps_rollup:\n\(text)")
    }

    /// Suspends until jobsd has handed its freed heap back more than `count` times (its log line
    /// `heap trimmed`, written each time the engine has been idle for a moment after work).
    func waitForHeapTrim(after count: Int) async throws {
        try await eventually("jobsd trimming its heap once idle", timeout: 60) { heapTrims() > count }
    }

    /// How often jobsd has trimmed its heap so far.
    func heapTrims() -> Int { jobsd.log.components(separatedBy: "heap trimmed").count - 1 }

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

    /// Returns once jobsd is ready (`/readyz` 200: recovery has put what it found back into the
    /// queue and the gauges) and at most `activeJobs` jobs are queued, running or cancelling (read
    /// from `/metrics`).
    func waitUntilIdle(activeJobs: Int = 0) async throws {
        for _ in 0..<6000 {
            guard try await client.transport.send(ClientRequest(path: "/readyz")).status == 200 else {
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            let series = try await metrics()
            let active = ["queued", "running", "cancelling"].reduce(0.0) { $0 + (series["jobsd_jobs{state=\"\($1)\"}"] ?? 0) }
            if active <= Double(activeJobs) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("jobsd still has active jobs after 120 s")
    }

    /// jobsd's `/metrics`: each series (name and labels, as written) and its value.
    func metrics() async throws -> [String: Double] {
        let text = try await client.transport.send(ClientRequest(path: "/metrics")).text
        var series: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            series[String(line[..<space])] = value
        }
        return series
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
