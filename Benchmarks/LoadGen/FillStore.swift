import ArgumentParser
import Dispatch
import Foundation
import JobsdAPI
import JobsdStore
import Logging

/// Set-up for the stored-history measures (not a measure itself): writes `jobs` finished jobs
/// into a jobsd SQLite database through a real `SQLiteJobStore`, the rows and timeline events a
/// finished job leaves (`submitted`, `started`, `exited`, `finished`; one label in four jobs, a
/// quarter of them `failed`), as `clients` concurrent writers (group commit). Ids are ULIDs of
/// their creation time, one millisecond apart, ending now; all finished now, except that the
/// first `expiring` jobs finished at
/// `--expiring-finished-at` (Unix ms) instead, so that a retention sweep finds them. Writes
/// `sample` of the ids of the other jobs (of all when every job expires), spread evenly, as
/// `/v1/jobs/<id>` lines to `--paths` for wrk; prints the oldest job's path (`oldest_path`).
struct FillStore: Measure {
    static let configuration = CommandConfiguration(abstract: "Write finished jobs into a jobsd SQLite database (set-up for the history measures).")
    @Option(help: "The database file (jobsd's <data-dir>/jobsd.sqlite)") var db: String
    @Option(help: "Finished jobs to write") var jobs = 1_000_000
    @Option(help: "Of them, this many (the oldest) finished at --expiring-finished-at") var expiring = 0
    @Option(help: "Unix ms the expiring jobs finished at") var expiringFinishedAt: Int64 = 0
    @Option(help: "Concurrent writers") var clients = 64
    @Option(help: "File for wrk: one /v1/jobs/<id> per line") var paths: String?
    @Option(help: "Ids to write to --paths") var sample = 10_000

    func measure() throws -> ResultObject {
        try FileManager.default.createDirectory(atPath: (db as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var logger = Logger(label: "fill-store")
        logger.logLevel = .warning
        let store = try SQLiteJobStore(path: db, logger: logger)
        let (jobs, clients, expiring, expiredAt) = (jobs, clients, expiring, expiringFinishedAt)
        let newest = Timestamp.now().milliseconds
        let wall0 = Clock.now()
        try writeConcurrently("fill-store", jobs: jobs, clients: clients, store: store) { n in
            let created = newest - Int64(jobs - n)
            let record = Self.finished(n, createdAt: created, finishedAt: n < expiring ? expiredAt : newest)
            _ = try await store.insert(record, events: Self.events(of: record.job))
        }
        let seconds = Double(Clock.now() - wall0) / 1e9
        func path(_ n: Int) -> String { "/v1/jobs/" + Self.id(n, createdAt: newest - Int64(jobs - n)) }
        if let paths {
            let kept = expiring < jobs ? expiring : 0  // the paths name jobs a sweep keeps, when there are any
            let step = max(1, (jobs - kept) / max(1, sample))
            let lines = stride(from: kept, to: jobs, by: step).map(path)
            try (lines.joined(separator: "\n") + "\n").write(toFile: paths, atomically: true, encoding: .utf8)
        }
        var result = ResultObject()
        result.set("jobs", jobs)
        result.set("expiring", expiring)
        result.set("oldest_path", path(0))
        result.set("seconds", seconds)
        result.set("per_second", Double(jobs) / seconds)
        return result
    }

    /// A job as the engine leaves it after its process ran: `true`, or `false` for one in four.
    static func finished(_ n: Int, createdAt: Int64, finishedAt: Int64) -> JobRecord {
        let failed = n % 4 == 3
        let command = failed ? ["false"] : ["true"]
        let job = Job(
            id: id(n, createdAt: createdAt), labels: n % 4 == 0 ? ["team": "t\(n % 7)"] : [:], command: command,
            state: failed ? .failed : .succeeded, createdAt: Timestamp(milliseconds: createdAt),
            startedAt: Timestamp(milliseconds: createdAt), finishedAt: Timestamp(milliseconds: finishedAt), timeoutSeconds: 3600,
            graceSeconds: 10, pid: Int32(1000 + n % 30000), exitCode: failed ? 1 : 0, cleanup: CleanupStatus(state: .none))
        return JobRecord(job: job, spec: JobSpec(command: command, timeoutSeconds: 3600, graceSeconds: 10, labels: job.labels))
    }

    static func events(of job: Job) -> [JobEvent] {
        let at = job.finishedAt!
        return [
            JobEvent(.submitted, at: job.createdAt, seq: 1),
            JobEvent(.started, at: job.startedAt!, seq: 2, [.init("pid", .number(Double(job.pid!))), .init("attempt", .number(1))]),
            JobEvent(.exited, at: at, seq: 3, [.init("exit_code", .number(Double(job.exitCode!)))]),
            JobEvent(.finished, at: at, seq: 4, [.init("state", .string(job.state.rawValue))]),
        ]
    }

    /// A ULID: 48-bit creation time and, for the 80 random bits, `n` (Crockford base32).
    static func id(_ n: Int, createdAt: Int64) -> String {
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        let time = (0..<10).map { alphabet[Int((UInt64(createdAt) >> (45 - 5 * UInt64($0))) & 31)] }
        let random = (0..<16).map { alphabet[Int((UInt64(n) >> (75 - 5 * UInt64(min($0, 15)))) & 31)] }
        return String(time + random)
    }
}

/// Runs `write(n)` for every n in 0..<jobs on `clients` concurrent tasks against `store` (group
/// commit, as under load), then closes the store; throws the first failure as `LoadError(name, …)`.
func writeConcurrently(_ name: String, jobs: Int, clients: Int, store: SQLiteJobStore,
                       _ write: @escaping @Sendable (Int) async throws -> Void) throws {
    let failure = blockingTask {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<clients {
                    group.addTask {
                        for n in stride(from: client, to: jobs, by: clients) { try await write(n) }
                    }
                }
                try await group.waitForAll()
            }
            await store.close()
            return nil
        } catch {
            return "\(error)"
        }
    }
    if let failure { throw LoadError(name, failure) }
}

/// Runs `body` on the cooperative pool and waits for it on this (non-pool) thread.
func blockingTask(_ body: @escaping @Sendable () async -> String?) -> String? {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: String?
    Task {
        result = await body()
        done.signal()
    }
    done.wait()
    return result
}
