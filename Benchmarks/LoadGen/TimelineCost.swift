import ArgumentParser
import Dispatch
import Foundation
import JobsdAPI
import JobsdStore
import Logging

/// The cost of the termination timeline in the store: a job's three writes as the engine makes
/// them (insert `queued`; `running` with its pid; the terminal record), through a real
/// `SQLiteJobStore` in a temporary directory, with the events the engine batches into those
/// writes (`submitted`; `started`; `exited` + `finished`) and without them. `clients` tasks write
/// at once (group commit as under load). Variants alternate `rounds` times on fresh stores; the
/// figures are CPU µs (user + system of this process) and wall µs per job, medians.
struct TimelineCost: Measure {
    static let configuration = CommandConfiguration(abstract: "Store CPU and wall time per job with and without timeline events.")
    @Option(help: "Jobs per variant and round") var jobs = 20_000
    @Option(help: "Concurrent writers") var clients = 64
    @Option(help: "Rounds (each variant once per round)") var rounds = 3

    func measure() throws -> ResultObject {
        var cpu: [Bool: [Double]] = [:], wall: [Bool: [Double]] = [:]
        for _ in 0..<rounds {
            for withEvents in [false, true] {
                let (c, w) = try Self.run(jobs: jobs, clients: clients, withEvents: withEvents)
                cpu[withEvents, default: []].append(c)
                wall[withEvents, default: []].append(w)
            }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        var result = ResultObject()
        for (name, flag) in [("without", false), ("with", true)] {
            result.set("cpu_us_per_job_\(name)_events", median(cpu[flag]!))
            result.set("wall_us_per_job_\(name)_events", median(wall[flag]!))
        }
        result.set("cpu_us_per_job_added", median(cpu[true]!) - median(cpu[false]!))
        result.set("wall_us_per_job_added", median(wall[true]!) - median(wall[false]!))
        return result
    }

    /// One variant on a fresh store: (CPU µs per job, wall µs per job).
    static func run(jobs: Int, clients: Int, withEvents: Bool) throws -> (Double, Double) {
        let directory = NSTemporaryDirectory() + "jobsd-timeline-cost-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "timeline-cost")
        logger.logLevel = .warning
        let store = try SQLiteJobStore(path: directory + "/jobsd.sqlite", logger: logger)
        let cpu0 = cpuSeconds(), wall0 = Clock.now()
        try writeConcurrently("timeline-cost", jobs: jobs, clients: clients, store: store) { n in
            try await lifecycle(n, store: store, withEvents: withEvents)
        }
        let cpu = (cpuSeconds() - cpu0) * 1e6 / Double(jobs)
        let wall = Double(Clock.now() - wall0) / 1e3 / Double(jobs)
        return (cpu, wall)
    }

    private static func lifecycle(_ n: Int, store: SQLiteJobStore, withEvents: Bool) async throws {
        let now = Timestamp.now()
        let id = String(format: "01M9%022d", n)
        var job = Job(id: id, name: nil, labels: [:], command: ["true"], state: .queued, createdAt: now, timeoutSeconds: 3600,
                      graceSeconds: 10, cleanup: CleanupStatus(state: .none))
        var record = JobRecord(job: job, spec: JobSpec(command: ["true"], timeoutSeconds: 3600, graceSeconds: 10))
        _ = try await store.insert(record, events: withEvents ? [JobEvent(.submitted, at: now, seq: 1)] : [])
        job.state = .running
        job.startedAt = now
        job.pid = 4242
        record.job = job
        try await store.update(record, events: withEvents ? [JobEvent(.started, at: now, seq: 2, [.init("pid", .number(4242)), .init("attempt", .number(1))])] : [])
        job.state = .succeeded
        job.finishedAt = now
        job.exitCode = 0
        record.job = job
        try await store.update(record, events: withEvents ? [
            JobEvent(.exited, at: now, seq: 3, [.init("exit_code", .number(0))]),
            JobEvent(.finished, at: now, seq: 4, [.init("state", .string("succeeded"))]),
        ] : [])
    }
}
