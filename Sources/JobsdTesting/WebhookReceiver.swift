import Foundation
import JobsdHTTP
import JobsdMetrics
import Logging

/// A webhook receiver for tests: a real HTTP server (JobsdHTTP, a server of its own, not jobsd's)
/// on 127.0.0.1 that answers each request with the next of its scripted statuses (then 200) and
/// records every request it got. `WebhookReceiver.with` always stops it, on success and failure.
public final class WebhookReceiver: Sendable {
    /// One request as received.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        /// The first value of header `name`, compared case-insensitively.
        public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    }

    public let port: Int
    /// `http://127.0.0.1:<port>/hook`.
    public var url: String { "http://127.0.0.1:\(port)/hook" }

    private let state: State

    /// Starts a receiver on `port` (0: any free port) answering with `statuses` in order, then 200,
    /// runs `body`, then stops it.
    public static func with<T: Sendable>(
        port: Int = 0, statuses: [Int] = [], _ body: (WebhookReceiver) async throws -> T
    ) async throws -> T {
        let state = State(statuses: statuses)
        var configuration = HTTPServerConfiguration()
        configuration.port = port
        configuration.eventLoopCount = 1
        configuration.shutdownGracePeriod = .milliseconds(100)
        var logger = Logger(label: "webhook-receiver")
        logger.logLevel = .critical
        let server = HTTPServer(configuration: configuration, logger: logger) { request in
            HTTPResponse(status: state.record(Request(
                method: request.method, path: request.target, headers: request.headers.map { ($0.name, $0.value) }, body: request.body)))
        }
        let running = Task { try await server.run() }
        defer { running.cancel() }
        let receiver = WebhookReceiver(port: try await server.waitUntilListening(), state: state)
        do {
            let result = try await body(receiver)
            running.cancel()
            _ = try? await running.value
            return result
        } catch {
            running.cancel()
            _ = try? await running.value
            throw error
        }
    }

    private init(port: Int, state: State) {
        self.port = port
        self.state = state
    }

    /// Every request so far, in arrival order.
    public var requests: [Request] { state.lock.withLock { state.requests } }

    /// Returns the requests once at least `count` arrived; throws after `timeout` seconds.
    public func waitForRequests(_ count: Int, timeout: Double = 60) async throws -> [Request] {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            let (requests, arrived) = state.lock.withLock { (state.requests, state.arrived) }
            if requests.count >= count { return requests }
            guard ContinuousClock.now < deadline else {
                throw TestHarnessError("the webhook receiver got \(requests.count) requests, not \(count), within \(timeout) s")
            }
            await arrived.wait(timeout: deadline)
        }
    }

    /// The receiver's shared state. `lock` guards `statuses`, `requests` and `arrived`.
    private final class State: @unchecked Sendable {
        let lock = PThreadLock()
        var statuses: [Int]
        var requests: [Request] = []
        /// Fires (and is replaced) when a request arrives.
        var arrived = OneShot()

        init(statuses: [Int]) { self.statuses = statuses }

        /// Records `request` and returns the status to answer it with.
        func record(_ request: Request) -> Int {
            let (status, fired) = lock.withLock {
                requests.append(request)
                let fired = arrived
                arrived = OneShot()
                return (statuses.isEmpty ? 200 : statuses.removeFirst(), fired)
            }
            fired.fire()
            return status
        }
    }
}
