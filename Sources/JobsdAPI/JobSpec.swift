/// What a client submits in `POST /v1/jobs` (CONTRACT.md, "Submitting").
///
/// Optional numbers left nil take the server's defaults (`--default-timeout`, `--default-grace`).
/// The server validates every field; see `openapi.yaml` for the rules.
public struct JobSpec: Codable, Sendable, Equatable {
    /// argv; `command[0]` is looked up on PATH. No shell unless the user writes `sh -c`.
    public var command: [String]
    /// Added to the base environment (PATH, HOME=workdir, LANG) plus `JOBSD_JOB_ID`.
    public var env: [String: String]
    /// Written to the process's stdin, which is then closed. nil: stdin is empty.
    public var stdin: String?
    /// Deadline counted from the job's start; nil: the server default.
    public var timeoutSeconds: Double?
    /// SIGTERM → SIGKILL delay on cancel, timeout or shutdown; nil: the server default.
    public var graceSeconds: Double?
    public var cleanup: CleanupSpec?
    public var name: String?
    public var labels: [String: String]
    /// The completion webhook: POSTed the job JSON once the job is terminal. nil: none.
    public var notify: NotifySpec?
    /// Resource limits (memory, CPU, pids, open files, CPU seconds); nil: the server's defaults.
    /// The server stores the limits in force (defaults applied), so they hold after a restart.
    public var limits: JobLimits?
    /// The user the job runs as (`--allow-users`); nil: `--job-user`, else jobsd's own.
    public var user: String?
    /// At most `concurrencyLimit` (default 1) jobs with this key run at once; the others wait,
    /// in submission order.
    public var concurrencyKey: String?
    public var concurrencyLimit: Int?
    /// Start no earlier than this (RFC 3339); not together with `delaySeconds`.
    public var runAt: Timestamp?
    /// Start no earlier than this many seconds after submission.
    public var delaySeconds: Double?
    public var retry: RetryPolicy?
    /// −100…100, higher first among the jobs that may start (nil: 0); see `Job.priority`.
    public var priority: Int?
    public static let priorityRange = -100...100

    public init(
        command: [String], env: [String: String] = [:], stdin: String? = nil, timeoutSeconds: Double? = nil,
        graceSeconds: Double? = nil, cleanup: CleanupSpec? = nil, name: String? = nil, labels: [String: String] = [:],
        notify: NotifySpec? = nil, limits: JobLimits? = nil, user: String? = nil, concurrencyKey: String? = nil,
        concurrencyLimit: Int? = nil, runAt: Timestamp? = nil, delaySeconds: Double? = nil, retry: RetryPolicy? = nil,
        priority: Int? = nil
    ) {
        self.command = command
        self.env = env
        self.stdin = stdin
        self.timeoutSeconds = timeoutSeconds
        self.graceSeconds = graceSeconds
        self.cleanup = cleanup
        self.name = name
        self.labels = labels
        self.notify = notify
        self.limits = limits
        self.user = user
        self.concurrencyKey = concurrencyKey
        self.concurrencyLimit = concurrencyLimit
        self.runAt = runAt
        self.delaySeconds = delaySeconds
        self.retry = retry
        self.priority = priority
    }

    enum CodingKeys: String, CodingKey {
        case command, env, stdin, cleanup, name, labels, notify, limits, user, retry, priority
        case timeoutSeconds = "timeout_seconds"
        case graceSeconds = "grace_seconds"
        case concurrencyKey = "concurrency_key", concurrencyLimit = "concurrency_limit"
        case runAt = "run_at", delaySeconds = "delay_seconds"
    }

    /// True when the spec asks for none of the orchestration features (keys, schedule, retries,
    /// priority).
    public var hasNoOrchestration: Bool {
        concurrencyKey == nil && concurrencyLimit == nil && runAt == nil && delaySeconds == nil && retry == nil && priority == nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        command = try c.decode([String].self, forKey: .command)
        env = try c.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
        stdin = try c.decodeIfPresent(String.self, forKey: .stdin)
        timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds)
        graceSeconds = try c.decodeIfPresent(Double.self, forKey: .graceSeconds)
        cleanup = try c.decodeIfPresent(CleanupSpec.self, forKey: .cleanup)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        notify = try c.decodeIfPresent(NotifySpec.self, forKey: .notify)
        limits = try c.decodeIfPresent(JobLimits.self, forKey: .limits)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        concurrencyKey = try c.decodeIfPresent(String.self, forKey: .concurrencyKey)
        concurrencyLimit = try c.decodeIfPresent(Int.self, forKey: .concurrencyLimit)
        runAt = try c.decodeIfPresent(Timestamp.self, forKey: .runAt)
        delaySeconds = try c.decodeIfPresent(Double.self, forKey: .delaySeconds)
        retry = try c.decodeIfPresent(RetryPolicy.self, forKey: .retry)
        priority = try c.decodeIfPresent(Int.self, forKey: .priority)
    }

    /// The JSON request body, with absent optionals omitted.
    public var json: String { encoded(withJobFields: true) }

    /// Only what a job's own fields do not hold — env, stdin, cleanup, notify, limits, user — as a
    /// JSON object (`{}` when none): the spec as a store keeps it beside the job (the engine moves
    /// the orchestration fields into the job's own fields and clears them here).
    public var runtimeJSON: String { encoded(withJobFields: false) }

    /// The fields in request order; without `withJobFields`, only env, stdin, cleanup, notify,
    /// limits and user.
    private func encoded(withJobFields all: Bool) -> String {
        var w = JSONWriter()
        var separator = "{"
        func key(_ name: String) {
            w.raw(separator + "\"" + name + "\":")
            separator = ","
        }
        if all { key("command"); w.stringArray(command) }
        if !env.isEmpty { key("env"); w.stringMap(env) }
        if let stdin { key("stdin"); w.string(stdin) }
        if all, let timeoutSeconds { key("timeout_seconds"); w.number(timeoutSeconds) }
        if all, let graceSeconds { key("grace_seconds"); w.number(graceSeconds) }
        if let cleanup {
            key("cleanup")
            w.raw("{\"command\":")
            w.stringArray(cleanup.command)
            if let t = cleanup.timeoutSeconds { w.raw(",\"timeout_seconds\":"); w.number(t) }
            w.raw("}")
        }
        if all, let name { key("name"); w.string(name) }
        if all, !labels.isEmpty { key("labels"); w.stringMap(labels) }
        if let notify {
            key("notify")
            w.raw("{\"url\":")
            w.string(notify.url)
            w.raw("}")
        }
        if let limits, !limits.isEmpty { key("limits"); limits.write(into: &w) }
        if let user { key("user"); w.string(user) }
        if all, let concurrencyKey { key("concurrency_key"); w.string(concurrencyKey) }
        if all, let concurrencyLimit { key("concurrency_limit"); w.raw(String(concurrencyLimit)) }
        if all, let runAt { key("run_at"); w.string(runAt.description) }
        if all, let delaySeconds { key("delay_seconds"); w.number(delaySeconds) }
        if all, let retry { key("retry"); retry.write(into: &w) }
        if all, let priority { key("priority"); w.raw(String(priority)) }
        w.raw(separator == "{" ? "{}" : "}")
        return w.text
    }
}

/// The user's cleanup hook: runs after the job's processes are gone, shielded from cancellation.
public struct CleanupSpec: Codable, Sendable, Equatable {
    public var command: [String]
    /// nil: 30 seconds.
    public var timeoutSeconds: Double?

    public static let defaultTimeoutSeconds: Double = 30

    public init(command: [String], timeoutSeconds: Double? = nil) {
        self.command = command
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey {
        case command
        case timeoutSeconds = "timeout_seconds"
    }
}

/// The completion webhook of a job (CONTRACT.md, "Completion webhooks").
public struct NotifySpec: Codable, Sendable, Equatable {
    /// `http://` or `https://` URL the terminal job is POSTed to; its host must be allowed by
    /// `--webhook-allow`.
    public var url: String

    public init(url: String) { self.url = url }
}
