import CoreMetrics
import Foundation
import JobsdAPI
import JobsdCore
import JobsdHTTP
import JobsdStore
import JobsdWebhooks
import Logging
import ServiceLifecycle
import UnixSignals

/// The composed server: store, engine, HTTP server, routes, metrics and shutdown.
///
/// Shutdown (CONTRACT.md, "Shutdown"): the first SIGTERM/SIGINT (or `beginShutdown()`) turns
/// `/readyz` and new POSTs to 503 while reads, long-polls and DELETE keep working; running jobs get
/// `--shutdown-timeout`, then are cancelled as by DELETE; queued jobs stay queued on disk. The HTTP
/// server stops only after the engine has finished, then the store is closed and `run()` returns.
/// A second signal cancels running jobs at once; a third exits immediately, naming what was pending.
public final class JobsdServer: Sendable {
    public let configuration: ServerConfiguration
    let logger: Logger
    let store: any JobStore
    let engine: JobEngine
    /// Submits the schedules' runs (`/v1/schedules`).
    let schedules: ScheduleRunner
    let http: HTTPServer
    let lifecycle = ServerLifecycle()
    let serviceGroup: ServiceGroup
    /// This server's own Prometheus registry, rendered by `GET /metrics`; the engine and the HTTP
    /// metrics are given it explicitly, never through the process-global `MetricsSystem`.
    let prometheus = PrometheusMetrics()

    /// The swift-metrics backend behind `GET /metrics`. The `jobsd` executable (one server per
    /// process) bootstraps `MetricsSystem` with it, so that any library emitting through the global
    /// system shows up there too; code running several servers in one process must not.
    public var metricsFactory: any MetricsFactory { prometheus }

    /// Opens the store (creating the data directory) and builds every part; nothing runs until
    /// `run()`. Throws a readable error when the data directory or database cannot be used.
    public init(configuration: ServerConfiguration, logger: Logger) throws {
        var configuration = configuration
        self.logger = logger
        let dataDirectory = configuration.engine.dataDirectory
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw StartupError("cannot create data directory \(dataDirectory): \(error.localizedDescription)")
        }
        guard access(dataDirectory, W_OK) == 0, Self.canWrite(in: dataDirectory) else {
            throw StartupError("data directory \(dataDirectory) is not writable")
        }
        let scheduleStore: any ScheduleStore
        switch configuration.store {
        case .sqlite:
            scheduleStore = try SQLiteJobStore(path: dataDirectory + "/jobsd.sqlite", logger: logger, cacheRecords: configuration.cacheRecords)
        case .memory: scheduleStore = InMemoryJobStore()
        case let .postgres(url):
            scheduleStore = try PostgresJobStore(
                url: url, logger: logger, metrics: prometheus, idleInTransactionLimit: configuration.engine.nodeTimeout)
        }
        store = scheduleStore
        if configuration.token == nil, !configuration.insecureNoAuth, !ServerConfiguration.isLoopback(configuration.http.host) {
            let token = Self.randomToken()
            configuration.token = token
            logger.warning("no token configured on a non-loopback address; generated one for this run", metadata: ["token": "\(token)"])
        } else if configuration.token == nil, !ServerConfiguration.isLoopback(configuration.http.host) {
            logger.warning("--insecure-no-auth: jobsd accepts requests from anyone who can reach \(configuration.http.host)")
        }
        self.configuration = configuration

        do {
            engine = try JobEngine(configuration: configuration.engine, store: store, metrics: prometheus, logger: logger)
        } catch {
            throw StartupError("\(error)")
        }
        let engine = self.engine
        var decoder = JobSpecDecoder(maxTimeout: configuration.engine.maxTimeout, webhookAllow: configuration.webhookAllowList)
        decoder.limits = LimitPolicy(
            caps: configuration.limitCaps, defaults: configuration.limitDefaults,
            unavailable: Dictionary(uniqueKeysWithValues: JobLimits.Kind.allCases.compactMap { kind in engine.limitUnavailable(kind).map { (kind, $0) } }))
        if let problem = decoder.limits.configurationProblem() { throw StartupError(problem) }
        decoder.allowedUsers = Set(engine.allowedUsers)
        if let path = configuration.templatesPath {
            do { decoder.templates = try TemplateCatalog.load(path: path, decoder: decoder) } catch { throw StartupError("\(error)") }
        }
        guard !configuration.templatesOnly || !decoder.templates.templates.isEmpty else {
            throw StartupError("--templates-only needs --templates FILE with at least one template")
        }
        decoder.templatesOnly = configuration.templatesOnly
        if geteuid() == 0, engine.jobUser == nil {
            logger.warning("jobsd runs as root and so do its jobs; set --job-user to run them as another user")
        }
        // On a shared store, other nodes create schedules too: a pass every 5 s sees them.
        schedules = ScheduleRunner(
            engine: engine, store: scheduleStore, resyncSeconds: scheduleStore is any SharedJobStore ? 5 : nil, logger: logger)
        var router = HTTPRouter()
        CapabilityRoutes(engine: engine, decoder: decoder).register(in: &router)
        JobRoutes(
            engine: engine, lifecycle: lifecycle, decoder: decoder,
            bodies: TerminalJobBodies(capacity: max(1, configuration.cacheRecords / 4)))
            .register(in: &router)
        EventStreamRoutes(engine: engine, keepAliveInterval: configuration.eventStreamKeepAlive).register(in: &router)
        GroupRoutes(engine: engine, lifecycle: lifecycle, decoder: decoder).register(in: &router)
        ScheduleRoutes(runner: schedules, lifecycle: lifecycle, decoder: decoder).register(in: &router)
        OperationsRoutes(engine: engine, lifecycle: lifecycle, metrics: prometheus).register(in: &router)
        NodeRoutes(engine: engine).register(in: &router)
        UIRoutes().register(in: &router)
        let httpMetrics = HTTPMetrics(factory: prometheus, router: router)
        let auth = BearerAuth(token: configuration.token)
        let routes = router
        http = HTTPServer(configuration: configuration.http, logger: logger, observer: httpMetrics.observer) { request in
            guard auth.allows(request) else { return APIError.unauthorized.response }
            return routes.handleImmediately(request)
        } handler: { request in
            guard auth.allows(request) else { return APIError.unauthorized.response }
            return await routes.handle(request)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let outbox = store as? any WebhookOutbox {
            let dispatcher = WebhookDispatcher(
                outbox: outbox, feed: engine.changeFeed, configuration: configuration.webhooks, owner: configuration.engine.nodeID,
                metrics: prometheus, logger: logger)
            services.append(.init(service: WebhookService(dispatcher: dispatcher)))
            logger.info("webhooks", metadata: [
                "webhook.allow": "\(configuration.webhookAllowList.description)", "webhook.signed": "\(configuration.webhooks.secret != nil)",
                "webhook.max_attempts": "\(configuration.webhooks.maxAttempts)",
            ])
        }
        var group = ServiceGroupConfiguration(
            services: services + [
                .init(service: HTTPService(http: http)),
                .init(service: ScheduleService(runner: schedules)),
                .init(service: EngineService(engine: engine, lifecycle: lifecycle, http: http, host: configuration.http.host)),
            ],
            logger: logger)
        // Backstop: once the group is cancelled (not drained), it waits at most this long for the
        // services before giving up, so the process always exits.
        group.maximumCancellationDuration = .seconds(60)
        serviceGroup = ServiceGroup(configuration: group)
    }

    /// Serves until shut down (signal or `beginShutdown()`), then closes the store and returns.
    public func run() async throws {
        defer { logger.info("jobsd stopped") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.serviceGroup.run() }
            if configuration.handleSignals {
                group.addTask { await self.handleSignals() }
            }
            try await group.next()  // the service group, once everything has stopped
            group.cancelAll()
        }
        await store.close()
    }

    /// The bound HTTP port once listening.
    public func waitUntilListening() async throws -> Int { try await http.waitUntilListening() }

    /// Returns once the engine has read the store and accepts work (`/readyz` answers 200), or
    /// shutdown began.
    public func waitUntilReady() async { await engine.waitUntilReady() }

    /// First call: drain (as the first SIGTERM). Later calls: cancel running jobs at once.
    public func beginShutdown() {
        if lifecycle.isDraining {
            logger.notice("shutdown requested again: cancelling running jobs now")
            engine.shutdown()
            return
        }
        logger.notice("shutdown requested: draining", metadata: ["shutdown_timeout": "\(configuration.engine.shutdownTimeout)"])
        lifecycle.beginDraining()
        Task { await serviceGroup.triggerGracefulShutdown() }
    }

    private func handleSignals() async {
        var count = 0
        for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
            count += 1
            logger.notice("received \(signal)")
            if count <= 2 {
                beginShutdown()
            } else {
                let pending = (try? await engine.list(JobQuery(states: [.running, .cancelling], limit: 50))) ?? []
                logger.critical("third signal: exiting without waiting; the next start recovers what was pending", metadata: [
                    "pending_jobs": "\(pending.map(\.id).joined(separator: ","))",
                ])
                exit(1)
            }
        }
    }

    private static func randomToken() -> String {
        var bytes = [UInt8](repeating: 0, count: 24)
        if let f = fopen("/dev/urandom", "r") {
            fread(&bytes, 1, bytes.count, f)
            fclose(f)
        } else {
            for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    private static func canWrite(in directory: String) -> Bool {
        let probe = directory + "/.jobsd-write-probe-\(getpid())"
        let fd = open(probe, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        guard fd >= 0 else { return false }
        close(fd)
        unlink(probe)
        return true
    }
}

/// A reason jobsd cannot start, printed as one line.
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The HTTP server as a service: stops (gracefully, in-flight requests finish) when the group
/// shuts it down — which happens only after the engine service has returned.
struct HTTPService: Service {
    let http: HTTPServer
    func run() async throws { try await cancelWhenGracefulShutdown { try await http.run() } }
}

/// The completion-webhook deliveries as a service. Listed first, it stops last: after the engine
/// drained and the HTTP server stopped, so jobs that end during the drain still get their attempt.
/// What is not delivered by then stays in the outbox for the next start.
struct WebhookService: Service {
    let dispatcher: WebhookDispatcher
    func run() async throws { await cancelWhenGracefulShutdown { await dispatcher.run() } }
}

/// The schedules' timer and passes as a service; it stops at the graceful shutdown's start, so
/// that no run is submitted to a draining engine.
struct ScheduleService: Service {
    let runner: ScheduleRunner
    func run() async throws { await cancelWhenGracefulShutdown { await runner.run() } }
}

/// The engine as a service: graceful shutdown drains it (see `JobEngine.shutdown()`).
/// It also tells the engine the URL it serves on once the HTTP server listens (`GET /v1/nodes`).
struct EngineService: Service {
    let engine: JobEngine
    let lifecycle: ServerLifecycle
    let http: HTTPServer
    let host: String
    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { [engine, http, host] in
                    if let port = try? await http.waitUntilListening() {
                        engine.setAddress("http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
                    }
                }
                try await engine.run()
            }
        } onGracefulShutdown: {
            lifecycle.beginDraining()
            engine.shutdown()
        }
    }
}
