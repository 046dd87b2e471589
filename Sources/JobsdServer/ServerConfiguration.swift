import JobsdAPI
import JobsdCore
import JobsdHTTP
import JobsdStore
import JobsdWebhooks

/// Everything `jobsd` is configured with (flags and their `JOBSD_*` twins, parsed by the
/// executable). Defaults are CONTRACT.md's.
public struct ServerConfiguration: Sendable {
    public var http = HTTPServerConfiguration()
    public var engine: EngineConfiguration
    /// Bearer token; nil means no auth (only allowed on loopback unless `insecureNoAuth`).
    public var token: String?
    /// Explicit opt-out of the generated token on a non-loopback address.
    public var insecureNoAuth = false
    public var store: StoreKind = .sqlite
    /// Job records the SQLite store keeps in memory for reads (its page cache is sized from it);
    /// a quarter as many finished jobs' JSON bodies are kept encoded for `GET /v1/jobs/{id}`. Memory tests lower it so that a short
    /// warm-up fills every cache.
    public var cacheRecords = SQLiteJobStore.defaultCacheRecords
    /// Completion webhooks (`--webhook-secret`, `--webhook-max-attempts`, `--webhook-allow`).
    public var webhooks = WebhookConfiguration()
    /// Largest limits a job may ask for (`--max-memory`, `--max-cpu`, `--max-pids`,
    /// `--max-open-files`, `--max-cpu-seconds`); a job that sets none gets the default, else this.
    public var limitCaps = JobLimits()
    /// Limits of a job that sets none (`--default-memory`, …).
    public var limitDefaults = JobLimits()
    /// `--templates FILE`: named command templates (JSON, see `TemplateCatalog`); nil: none.
    public var templatesPath: String?
    /// `--templates-only`: refuse raw commands (403); only templates run.
    public var templatesOnly = false
    /// Seconds between `: keep-alive` comments on an idle `GET /v1/events` stream (CONTRACT.md:
    /// 15); tests shorten it.
    public var eventStreamKeepAlive: Double = 15
    /// Handle SIGTERM/SIGINT (first: drain, second: cancel at once). Off for in-process test servers.
    public var handleSignals = true

    public init(dataDirectory: String = "./jobsd-data") {
        engine = EngineConfiguration(dataDirectory: dataDirectory)
    }

    /// The hosts a job's `notify.url` may name: `--webhook-allow`, else any when listening on
    /// loopback only and none otherwise.
    public var webhookAllowList: WebhookAllowList {
        webhooks.allow ?? .forListening(onLoopback: Self.isLoopback(http.host))
    }

    /// `--max-connections`' default, derived from the descriptors the process may hold
    /// (RLIMIT_NOFILE, after raising its soft limit to the hard one): what is left once
    /// `64 + 8 × maxRunning` are kept back for the store, the event loops and the running jobs
    /// (each holds up to 8 in jobsd: its output pipes, its cgroup, its log files, its cleanup's
    /// own), at least 16 and at most 10 000. With the connections capped below the descriptor
    /// limit, a connection past the cap is still accepted and answered `503`, and a job never
    /// fails to start for want of a descriptor the connections took.
    public static func defaultMaxConnections(maxRunning: Int, descriptorLimit: Int = HTTPServer.raiseDescriptorLimit()) -> Int {
        let reserved = 64 + 8 * maxRunning
        guard descriptorLimit > reserved else { return 16 }
        return min(10_000, max(16, descriptorLimit - reserved))
    }

    /// True for 127.0.0.0/8, ::1 and localhost.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

/// Where job records live (`--store`).
public enum StoreKind: Sendable, Equatable {
    /// `<data-dir>/jobsd.sqlite`, durable (the default).
    case sqlite
    /// Nothing survives a restart; for benchmarks and experiments only.
    case memory
    /// A PostgreSQL database several nodes may share, by libpq URL (`postgres://user:pass@host:port/db`,
    /// `postgres:///db?host=/run/postgresql`).
    case postgres(url: String)

    /// Parses `--store`: `sqlite`, `memory`, or a `postgres://` / `postgresql://` URL; nil otherwise.
    public init?(argument: String) {
        switch argument.lowercased() {
        case "sqlite": self = .sqlite
        case "memory": self = .memory
        default:
            guard argument.hasPrefix("postgres://") || argument.hasPrefix("postgresql://") else { return nil }
            self = .postgres(url: argument)
        }
    }
}
