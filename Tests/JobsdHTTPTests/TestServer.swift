import Dispatch
import Logging
@testable import JobsdHTTP

let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// Runs a real `HTTPServer` on an ephemeral port for `body`, and always shuts it down (cancelling
/// its run Task and awaiting it), on success and on failure.
func withServer(
    _ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    observer: HTTPServerObserver = .init(),
    immediate: HTTPImmediateHandler? = nil,
    handler: @escaping HTTPHandler,
    _ body: (_ port: Int) async throws -> Void
) async throws {
    var configuration = HTTPServerConfiguration()
    configuration.port = 0
    configure(&configuration)
    let server = HTTPServer(configuration: configuration, logger: quietLogger,
                            observer: observer, immediateHandler: immediate, handler: handler)
    let run = Task { try await server.run() }
    do {
        try await body(try await server.waitUntilListening())
    } catch {
        run.cancel()
        _ = await run.result
        throw error
    }
    run.cancel()
    try await run.value
}

/// A one-shot signal between a handler and a test: `wait()` returns once `fire()` was called.
final class Gate: @unchecked Sendable {
    private let lock = Lock()
    // Guarded by `lock`.
    private var fired = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func fire() {
        let waiting = lock.withLock {
            fired = true
            defer { waiters = [] }
            return waiters
        }
        for waiter in waiting { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let now = lock.withLock {
                if fired { return true }
                waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    var isFired: Bool { lock.withLock { fired } }
}

/// Collects strings from any thread, in order.
final class Recorder: @unchecked Sendable {
    private let lock = Lock()
    // Guarded by `lock`.
    private var items: [String] = []

    func append(_ item: String) { lock.withLock { items.append(item) } }
    var values: [String] { lock.withLock { items } }
}
