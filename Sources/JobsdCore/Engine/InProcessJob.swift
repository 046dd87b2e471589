import JobsdAPI
import JobsdMetrics
import JobsdStore

/// The body of an in-process job kind: a Swift async closure run instead of a process.
public typealias InProcessJobBody = @Sendable (JobContext) async throws -> Void

/// What an in-process job gets: its id and arguments, a way to write output, and cleanup hooks.
///
/// Cancellation (cancel, timeout, shutdown) is cooperative: the closure's task is cancelled and
/// has `grace_seconds` to return. One that ignores it keeps running, but the job is reported
/// (`cancelled`/`timed_out`) anyway, logged, and counted in `jobsd_abandoned_tasks_total`.
public struct JobContext: Sendable {
    public let jobID: String
    /// `command` without its first element (the kind's name).
    public let arguments: [String]
    /// The job's environment as a process would get it.
    public let environment: [String: String]
    let log: (any OpenJobLog)?
    let hooks: CleanupHooks
    let onOutput: @Sendable () -> Void

    /// Appends to the job's output (as stdout or stderr).
    public func write(_ text: String, to stream: LogStream = .stdout) {
        Array(text.utf8).withUnsafeBytes { log?.append($0, stream: stream) }
        onOutput()
    }

    /// Registers a hook run after the closure ended (or was abandoned), before the job's cleanup
    /// command; hooks run once, newest first, shielded from cancellation.
    public func onCleanup(_ hook: @escaping @Sendable () async -> Void) { hooks.add(hook) }
}

/// Cleanup hooks of one in-process job. `hooks` is guarded by `lock`.
final class CleanupHooks: @unchecked Sendable {
    private let lock = PThreadLock()
    private var hooks: [@Sendable () async -> Void] = []

    func add(_ hook: @escaping @Sendable () async -> Void) { lock.withLock { hooks.append(hook) } }

    /// Takes every hook (each runs once).
    func take() -> [@Sendable () async -> Void] {
        lock.withLock {
            defer { hooks = [] }
            return hooks.reversed()
        }
    }
}

/// Registered in-process job kinds by name. `kinds` is guarded by `lock`.
final class InProcessKinds: @unchecked Sendable {
    private let lock = PThreadLock()
    private var kinds: [String: InProcessJobBody] = [:]

    func register(_ name: String, _ body: @escaping InProcessJobBody) { lock.withLock { kinds[name] = body } }

    /// The kind a command runs, when its first element is a registered name.
    func kind(for command: [String]) -> InProcessJobBody? {
        guard let name = command.first else { return nil }
        return lock.withLock { kinds[name] }
    }
}
