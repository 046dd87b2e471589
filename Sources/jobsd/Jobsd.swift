import ArgumentParser
import CoreMetrics
import Foundation
import JobsdAPI
import JobsdCore
import JobsdServer
import JobsdWebhooks
import Logging

/// `jobsd`: parses flags (each with a `JOBSD_*` environment twin; the flag wins), starts the
/// server and exits 0 after a clean shutdown, 1 with one line on stderr when start-up fails.
@main
struct Jobsd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobsd",
        abstract: "HTTP job runner: POST a command, poll it, stream its output, cancel it.",
        discussion: """
            Every flag can also be set with its environment twin (shown in brackets); the flag wins.
            Durations accept plain seconds or a suffix: 500ms, 30s, 5m, 2h, 7d.
            SIGTERM/SIGINT drains (running jobs get --shutdown-timeout); a second signal cancels them at once.
            """)

    @Option(help: "Address to listen on [JOBSD_HOST] (default: 127.0.0.1)") var host: String?
    @Option(help: "Port to listen on, 0 for any [JOBSD_PORT] (default: 8080)") var port: String?
    @Option(help: "Database and job logs [JOBSD_DATA_DIR] (default: ./jobsd-data)") var dataDir: String?
    @Option(help: "Jobs running at once [JOBSD_MAX_RUNNING] (default: 4 x cores)") var maxRunning: String?
    @Option(help: "Jobs waiting, beyond -> 429 [JOBSD_QUEUE_LIMIT] (default: 10000)") var queueLimit: String?
    @Option(help: "A job's deadline when it sets none [JOBSD_DEFAULT_TIMEOUT] (default: 1h)") var defaultTimeout: String?
    @Option(help: "Largest timeout_seconds accepted [JOBSD_MAX_TIMEOUT] (default: 24h)") var maxTimeout: String?
    @Option(help: "SIGTERM -> SIGKILL delay when a job sets none [JOBSD_DEFAULT_GRACE] (default: 10s)") var defaultGrace: String?
    @Option(help: "Drain time on SIGTERM/SIGINT [JOBSD_SHUTDOWN_TIMEOUT] (default: 25s)") var shutdownTimeout: String?
    @Option(help: "Time a client has to send its request headers [JOBSD_HEADER_TIMEOUT] (default: 10s)") var headerTimeout: String?
    @Option(help: "Idle keep-alive connections close after [JOBSD_IDLE_TIMEOUT] (default: 60s)") var idleTimeout: String?
    @Option(help: "Open connections at most, beyond -> 503 [JOBSD_MAX_CONNECTIONS] (default: RLIMIT_NOFILE - 64 - 8 x max-running, 16...10000)") var maxConnections: String?
    @Option(help: "Per-job output kept, oldest dropped [JOBSD_MAX_LOG_BYTES] (default: 10485760)") var maxLogBytes: String?
    @Option(help: "How long finished jobs and logs are kept [JOBSD_RETENTION] (default: 7d)") var retention: String?
    @Option(help: "File holding the bearer token [JOBSD_TOKEN_FILE]; or set JOBSD_TOKEN") var tokenFile: String?
    @Flag(help: "Serve a non-loopback address without a token [JOBSD_INSECURE_NO_AUTH=1]") var insecureNoAuth = false
    @Option(help: "sqlite (durable, in --data-dir), postgres://user:pass@host:port/db (several nodes), or memory (benchmarks only) [JOBSD_STORE] (default: sqlite)") var store: String?
    @Option(help: "This node's name among the nodes sharing a PostgreSQL store; unique per cluster [JOBSD_NODE_ID] (default: the host name)") var nodeId: String?
    @Option(help: "The URL this node serves on, shown in GET /v1/nodes [JOBSD_ADVERTISE_URL] (default: http://<host>:<port>)") var advertiseUrl: String?
    @Option(help: "How often a node renews its lease on a PostgreSQL store [JOBSD_HEARTBEAT] (default: 2s)") var heartbeat: String?
    @Option(help: "A node silent this long has its running jobs rescued by the others [JOBSD_NODE_TIMEOUT] (default: 10s)") var nodeTimeout: String?
    @Option(help: "auto, cgroup (a cgroup v2 per job) or proc (a subreaper per job) [JOBSD_CONTAINMENT] (default: auto)") var containment: String?
    @Option(help: "Signs each webhook body: Jobsd-Signature: sha256=<hex HMAC-SHA256> [JOBSD_WEBHOOK_SECRET] (default: unsigned)") var webhookSecret: String?
    @Option(help: "Attempts per webhook delivery, the first included [JOBSD_WEBHOOK_MAX_ATTEMPTS] (default: 10)") var webhookMaxAttempts: String?
    @Option(help: "Hosts a job's notify.url may name: comma list or * [JOBSD_WEBHOOK_ALLOW] (default: * on loopback, none otherwise)") var webhookAllow: String?
    @Option(help: "Largest limits.memory_bytes a job may set, e.g. 2G [JOBSD_MAX_MEMORY] (default: none)") var maxMemory: String?
    @Option(help: "Largest limits.cpu (cores) a job may set [JOBSD_MAX_CPU] (default: none)") var maxCpu: String?
    @Option(help: "Largest limits.pids a job may set [JOBSD_MAX_PIDS] (default: none)") var maxPids: String?
    @Option(help: "Largest limits.open_files a job may set [JOBSD_MAX_OPEN_FILES] (default: none)") var maxOpenFiles: String?
    @Option(help: "Largest limits.cpu_seconds a job may set [JOBSD_MAX_CPU_SECONDS] (default: none)") var maxCpuSeconds: String?
    @Option(help: "limits.memory_bytes of a job that sets none [JOBSD_DEFAULT_MEMORY] (default: --max-memory)") var defaultMemory: String?
    @Option(help: "limits.cpu of a job that sets none [JOBSD_DEFAULT_CPU] (default: --max-cpu)") var defaultCpu: String?
    @Option(help: "limits.pids of a job that sets none [JOBSD_DEFAULT_PIDS] (default: --max-pids)") var defaultPids: String?
    @Option(help: "limits.open_files of a job that sets none [JOBSD_DEFAULT_OPEN_FILES] (default: --max-open-files)") var defaultOpenFiles: String?
    @Option(help: "limits.cpu_seconds of a job that sets none [JOBSD_DEFAULT_CPU_SECONDS] (default: --max-cpu-seconds)") var defaultCpuSeconds: String?
    @Option(help: "Run jobs as this user unless they name one; jobsd must be root [JOBSD_JOB_USER] (default: jobsd's own user)") var jobUser: String?
    @Option(help: "Comma-separated users a job may name in 'user' [JOBSD_ALLOW_USERS] (default: none)") var allowUsers: String?
    @Option(help: "JSON file of named command templates [JOBSD_TEMPLATES] (default: none)") var templates: String?
    @Option(help: "Waiting this long raises a queued job's priority by one, so none starves [JOBSD_PRIORITY_AGING] (default: 60s)") var priorityAging: String?
    @Flag(help: "Refuse raw commands (403); only --templates run [JOBSD_TEMPLATES_ONLY=1]") var templatesOnly = false
    @Option(help: "Job records kept in memory for reads [JOBSD_CACHE_RECORDS] (default: 16384)") var cacheRecords: String?
    @Option(help: "text or json [JOBSD_LOG_FORMAT] (default: text)") var logFormat: String?
    @Option(help: "trace, debug, info, notice, warning, error, critical [JOBSD_LOG_LEVEL] (default: info)") var logLevel: String?

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        var settings = Settings(env: env)
        let configuration: ServerConfiguration
        let logger: Logger
        do {
            let format = try settings.choice(logFormat, "JOBSD_LOG_FORMAT", "--log-format", default: LogLineHandler.Format.text)
            let level = try settings.choice(logLevel, "JOBSD_LOG_LEVEL", "--log-level", default: Logger.Level.info)
            LoggingSystem.bootstrap { LogLineHandler(label: $0, format: format, level: level) }
            logger = Logger(label: "jobsd")
            configuration = try makeConfiguration(&settings, env: env)
        } catch let error as SettingsError {
            Self.fail(error.description)
        }
        let server: JobsdServer
        do {
            server = try JobsdServer(configuration: configuration, logger: logger)
        } catch {
            Self.fail("\(error)")
        }
        // One server in this process: libraries that emit through the global system land on /metrics too.
        MetricsSystem.bootstrap(server.metricsFactory)
        do {
            try await server.run()
        } catch {
            Self.fail("\(error)")
        }
    }

    private func makeConfiguration(_ s: inout Settings, env: [String: String]) throws -> ServerConfiguration {
        var c = ServerConfiguration(dataDirectory: s.string(dataDir, "JOBSD_DATA_DIR") ?? "./jobsd-data")
        c.http.host = s.string(host, "JOBSD_HOST") ?? "127.0.0.1"
        c.http.port = try s.integer(port, "JOBSD_PORT", "--port", default: 8080, in: 0...65535)
        c.http.headerTimeout = .milliseconds(Int64(try s.duration(headerTimeout, "JOBSD_HEADER_TIMEOUT", "--header-timeout", default: 10, positive: true) * 1000))
        c.http.idleTimeout = .milliseconds(Int64(try s.duration(idleTimeout, "JOBSD_IDLE_TIMEOUT", "--idle-timeout", default: 60, positive: true) * 1000))
        let cores = ProcessInfo.processInfo.activeProcessorCount
        c.engine.maxRunning = try s.integer(maxRunning, "JOBSD_MAX_RUNNING", "--max-running", default: 4 * cores, in: 1...100_000)
        let connections = ServerConfiguration.defaultMaxConnections(maxRunning: c.engine.maxRunning)
        c.http.maxConnections = try s.integer(maxConnections, "JOBSD_MAX_CONNECTIONS", "--max-connections", default: connections, in: 1...1_000_000)
        c.engine.queueLimit = try s.integer(queueLimit, "JOBSD_QUEUE_LIMIT", "--queue-limit", default: 10_000, in: 0...10_000_000)
        c.engine.defaultTimeout = try s.duration(defaultTimeout, "JOBSD_DEFAULT_TIMEOUT", "--default-timeout", default: 3600, positive: true)
        c.engine.maxTimeout = try s.duration(maxTimeout, "JOBSD_MAX_TIMEOUT", "--max-timeout", default: 86_400, positive: true)
        guard c.engine.defaultTimeout <= c.engine.maxTimeout else {
            throw SettingsError("--default-timeout (\(c.engine.defaultTimeout)s) must not exceed --max-timeout (\(c.engine.maxTimeout)s)")
        }
        c.engine.defaultGrace = try s.duration(defaultGrace, "JOBSD_DEFAULT_GRACE", "--default-grace", default: 10, positive: false)
        c.engine.shutdownTimeout = try s.duration(shutdownTimeout, "JOBSD_SHUTDOWN_TIMEOUT", "--shutdown-timeout", default: 25, positive: false)
        c.engine.maxLogBytes = try s.integer(maxLogBytes, "JOBSD_MAX_LOG_BYTES", "--max-log-bytes", default: 10_485_760, in: 1...Int(Int32.max))
        c.engine.retention = try s.duration(retention, "JOBSD_RETENTION", "--retention", default: 7 * 86_400, positive: true)
        c.engine.priorityAging = try s.duration(priorityAging, "JOBSD_PRIORITY_AGING", "--priority-aging", default: 60, positive: true)
        // The sweep runs at least once a minute, and often enough that a short retention is kept to.
        c.engine.sweepInterval = min(60, max(0.5, c.engine.retention / 4))
        if let text = s.string(store, "JOBSD_STORE") {
            guard let kind = StoreKind(argument: text) else {
                throw SettingsError("--store (JOBSD_STORE) must be sqlite, memory or a postgres:// URL, got '\(text)'")
            }
            c.store = kind
        }
        if let id = s.string(nodeId, "JOBSD_NODE_ID") {
            guard (1...200).contains(id.count), id.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\u{0}" }) else {
                throw SettingsError("--node-id (JOBSD_NODE_ID) must be 1-200 visible ASCII characters, got '\(id)'")
            }
            c.engine.nodeID = id
        }
        c.engine.advertiseURL = s.string(advertiseUrl, "JOBSD_ADVERTISE_URL")
        c.engine.heartbeat = try s.duration(heartbeat, "JOBSD_HEARTBEAT", "--heartbeat", default: 2, positive: true)
        c.engine.nodeTimeout = try s.duration(nodeTimeout, "JOBSD_NODE_TIMEOUT", "--node-timeout", default: 10, positive: true)
        guard c.engine.nodeTimeout > c.engine.heartbeat else {
            throw SettingsError("--node-timeout (\(c.engine.nodeTimeout)s) must be longer than --heartbeat (\(c.engine.heartbeat)s)")
        }
        c.engine.containment = try s.choice(containment, "JOBSD_CONTAINMENT", "--containment", default: ContainmentChoice.auto)
        if let secret = s.string(webhookSecret, "JOBSD_WEBHOOK_SECRET") {
            guard !secret.isEmpty else { throw SettingsError("--webhook-secret (JOBSD_WEBHOOK_SECRET) must not be empty") }
            c.webhooks.secret = secret
        }
        c.webhooks.maxAttempts = try s.integer(
            webhookMaxAttempts, "JOBSD_WEBHOOK_MAX_ATTEMPTS", "--webhook-max-attempts", default: c.webhooks.maxAttempts, in: 1...100)
        if let allow = webhookAllow ?? env["JOBSD_WEBHOOK_ALLOW"] { c.webhooks.allow = WebhookAllowList(argument: allow) }
        let limitFlags: [(JobLimits.Kind, String?, String?)] = [
            (.memoryBytes, maxMemory, defaultMemory), (.cpu, maxCpu, defaultCpu), (.pids, maxPids, defaultPids),
            (.openFiles, maxOpenFiles, defaultOpenFiles), (.cpuSeconds, maxCpuSeconds, defaultCpuSeconds),
        ]
        for (kind, cap, fallback) in limitFlags {
            c.limitCaps[kind] = try s.limit(cap, kind, prefix: "max")
            c.limitDefaults[kind] = try s.limit(fallback, kind, prefix: "default")
        }
        c.engine.jobUser = s.string(jobUser, "JOBSD_JOB_USER")
        c.engine.allowedUsers = (s.string(allowUsers, "JOBSD_ALLOW_USERS") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        c.templatesPath = s.string(templates, "JOBSD_TEMPLATES")
        c.templatesOnly = templatesOnly || ["1", "true", "yes"].contains(env["JOBSD_TEMPLATES_ONLY"]?.lowercased() ?? "")
        c.cacheRecords = try s.integer(cacheRecords, "JOBSD_CACHE_RECORDS", "--cache-records", default: c.cacheRecords, in: 1...10_000_000)
        c.insecureNoAuth = insecureNoAuth || ["1", "true", "yes"].contains(env["JOBSD_INSECURE_NO_AUTH"]?.lowercased() ?? "")
        if let path = s.string(tokenFile, "JOBSD_TOKEN_FILE") {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw SettingsError("--token-file: cannot read \(path)")
            }
            c.token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let token = env["JOBSD_TOKEN"] {
            c.token = token.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if c.token?.isEmpty == true { throw SettingsError("the bearer token is empty (JOBSD_TOKEN / --token-file)") }
        return c
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("jobsd: \(message)\n".utf8))
        Glibc.exit(1)
    }
}
