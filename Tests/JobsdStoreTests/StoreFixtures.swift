import Foundation
import JobsdAPI
import JobsdStore
import JobsdTesting
import Logging
import Testing

/// Opens one kind of store in a fresh directory; the contract tests run once per factory.
struct StoreFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let open: @Sendable (_ directory: String) async throws -> any JobStore

    var testDescription: String { name }

    static let inMemory = StoreFactory(name: "InMemoryJobStore") { _ in InMemoryJobStore() }
    static let sqlite = StoreFactory(name: "SQLiteJobStore") { directory in
        try SQLiteJobStore(path: directory + "/jobs.sqlite", logger: Logger(label: "jobsd.test.store"))
    }
    /// A fresh PostgreSQL schema per store (its own `search_path`), on the server
    /// scripts/with-postgres.sh starts for the test run.
    static let postgres = StoreFactory(name: "PostgresJobStore") { _ in
        try PostgresJobStore(url: try await TestPostgres.freshDatabaseURL(), logger: Logger(label: "jobsd.test.store"))
    }
    static let all = [inMemory, sqlite, postgres]
}

/// A private directory under /tmp, removed with everything in it by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/jobsd-store-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: made!)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Opens a store from `factory` in a temporary directory, runs `body`, then closes the store and
/// removes the directory, also when `body` throws.
func withStore(_ factory: StoreFactory, _ body: (any JobStore) async throws -> Void) async throws {
    try await withLogStore(factory) { store, _ in try await body(store) }
}

/// `withStore`, with the store's log store on the temporary directory.
func withLogStore(_ factory: StoreFactory, _ body: (any JobStore, any JobLogStore) async throws -> Void) async throws {
    let directory = TemporaryDirectory()
    defer { directory.remove() }
    let store = try await factory.open(directory.path)
    do {
        try await body(store, store.logStore(dataDirectory: directory.path))
        await store.close()
    } catch {
        await store.close()
        throw error
    }
}

/// Ids in creation order, shaped like ULIDs (26 characters); `n` makes them sort as numbers do.
func jobID(_ n: Int) -> String {
    let digits = String(n)
    return "01JTEST" + String(repeating: "0", count: 19 - digits.count) + digits
}

extension JobRecord {
    /// A minimal record: queued, no optionals set.
    static func make(
        _ n: Int, state: JobState = .queued, labels: [String: String] = [:], finishedAt: Timestamp? = nil,
        idempotencyKey: String? = nil
    ) -> JobRecord {
        let command = ["sh", "-c", "echo \(n)"]
        let job = Job(
            id: jobID(n), labels: labels, command: command, state: state,
            createdAt: Timestamp(milliseconds: 1_700_000_000_000 + Int64(n)), finishedAt: finishedAt,
            timeoutSeconds: 3600, graceSeconds: 10, cleanup: CleanupStatus(state: .none)
        )
        return JobRecord(
            job: job, spec: JobSpec(command: command, labels: labels), idempotencyKey: idempotencyKey,
            requestFingerprint: idempotencyKey.map { "{\"command\":[\"\($0)\"]}" }
        )
    }

    /// `make(n)` with the timeouts the engine writes into the spec, so the spec agrees with the job.
    static func agreeing(_ n: Int) -> JobRecord {
        var record = make(n)
        record.spec.timeoutSeconds = record.job.timeoutSeconds
        record.spec.graceSeconds = record.job.graceSeconds
        return record
    }

    /// A record with every optional set and awkward text (unicode, quotes, control characters).
    static func full(_ n: Int) -> JobRecord {
        let labels = ["team": "données", "tier/level": "1", "emoji": "🚀", "empty": ""]
        let spec = JobSpec(
            command: ["sh", "-c", "printf '%s\\n' \"$X\"; echo 'ünïcødé \"q\" \\\\ \t'"],
            env: ["X": "line1\nline2", "EMPTY": "", "UNI": "日本語"],
            stdin: "input\u{0}with nul and \u{1F}controls",
            timeoutSeconds: 0.1, graceSeconds: 1e-5,
            cleanup: CleanupSpec(command: ["rm", "-rf", "/tmp/x y"], timeoutSeconds: 12.5),
            name: "nightly-export ✓", labels: labels,
            limits: JobLimits(memoryBytes: 536_870_912, cpu: 0.25, pids: 64, openFiles: 1024, cpuSeconds: 30), user: "nobody"
        )
        let job = Job(
            id: jobID(n), name: "nightly-export ✓", labels: labels, command: spec.command, state: .cancelled,
            createdAt: Timestamp(milliseconds: 1_764_035_534_123), startedAt: Timestamp(milliseconds: 1_764_035_534_125),
            finishedAt: Timestamp(milliseconds: 1_764_035_600_999), timeoutSeconds: 0.1, graceSeconds: 1e-5,
            cancelRequestedAt: Timestamp(milliseconds: 1_764_035_590_000), pid: 41237, exitCode: -1,
            signal: "SIGKILL", error: "did not stop after cancellation",
            cleanup: CleanupStatus(state: .failed, exitCode: 3, error: "cleanup exited with 3"),
            logBytes: 10_485_760, limits: spec.limits, user: spec.user
        )
        return JobRecord(
            job: job, spec: spec, idempotencyKey: "key-ü-\(n)", requestFingerprint: spec.json,
            processStartTicks: UInt64.max - 7, owner: "node-a"
        )
    }
}

extension JobLogStore {
    /// `create` for a test that does not watch for dropped output.
    func create(_ id: String, maxBytes: Int, owner: (uid: UInt32, gid: UInt32)?, onReadable: @escaping @Sendable () -> Void) -> any OpenJobLog {
        create(id, maxBytes: maxBytes, owner: owner, onReadable: onReadable, onDrop: { _ in })
    }
}

/// Collects what a log tells its `onDrop`, from any thread.
final class DropRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [JobLogDrop] = []  // guarded by `lock`

    var changes: [JobLogDrop] { lock.withLock { recorded } }

    var record: @Sendable (JobLogDrop) -> Void { { [self] change in lock.withLock { recorded.append(change) } } }
}
