import JobsdAPI
import JobsdWebhooks

/// Turns a `POST /v1/jobs` body into a `JobSpec`, naming the offending field on every error.
/// Any JSON body is accepted whatever its Content-Type; `null` for an optional field means absent.
struct JobSpecDecoder {
    /// Upper bound for `timeout_seconds` (and `cleanup.timeout_seconds`); larger is a 400, not a cap.
    var maxTimeout: Double
    /// Limit ranges, caps, defaults and what can be enforced.
    var limits = LimitPolicy()
    /// Users a job may name in `user` (`--job-user`, `--allow-users`).
    var allowedUsers: Set<String> = []
    /// The hosts `notify.url` may name (`--webhook-allow` or its default).
    var webhookAllow: WebhookAllowList
    /// `--templates FILE`: a body with `template` and `params` runs one of these.
    var templates = TemplateCatalog.empty
    /// `--templates-only`: a body with a raw `command` is refused (403).
    var templatesOnly = false

    /// The fields of a body that runs a template: the template fixes what runs; the request
    /// names and labels the job, may schedule it (orchestration fields the template leaves open)
    /// and may tighten its limits.
    static let templateFields = Set(["template", "params", "name", "labels", "limits"]).union(orchestrationFields)

    /// The fields that schedule a job rather than say what it runs.
    static let orchestrationFields: Set<String> = ["concurrency_key", "concurrency_limit", "run_at", "delay_seconds", "retry", "priority"]

    static let fields: Set<String> = [
        "command", "env", "stdin", "timeout_seconds", "grace_seconds", "cleanup", "name", "labels", "notify", "limits", "user",
        "concurrency_key", "concurrency_limit", "run_at", "delay_seconds", "retry", "priority",
    ]

    /// Returns the spec and the parsed body (its canonical text is the idempotency fingerprint).
    func decode(_ body: [UInt8]) throws(APIError) -> (JobSpec, JSONValue) {
        guard !body.isEmpty else { throw .malformedBody("the request body must be a JSON object describing the job") }
        let value: JSONValue
        do { value = try JSONValue.parse(body) } catch { throw .malformedBody("the request body is not valid JSON: \(error)") }
        guard case .object = value else { throw .malformedBody("the request body must be a JSON object, not \(value.kindName)") }
        return (try decode(value), value)
    }

    /// The spec in one JSON object (a request body, or one of a group's `jobs`): a template run
    /// when it names a `template`, else the raw fields (403 with `--templates-only`).
    func decode(_ value: JSONValue) throws(APIError) -> JobSpec {
        guard case let .object(members) = value else { throw .malformedBody("a job must be a JSON object, not \(value.kindName)") }
        if let template = present(value["template"]) { return try templated(template, members: members, value: value) }
        if templatesOnly {
            throw .forbidden("raw commands are refused: this server runs only its templates (--templates-only); GET /v1/templates lists them")
        }
        return try decodeFields(value)
    }

    /// A body naming a template: its argv from the validated `params`, the template's fixed
    /// fields, the request's own `name` and `labels` (over the template's), the request's
    /// orchestration fields where the template sets none (one it sets is fixed: 400), and the
    /// request's `limits` where they are no higher than the template's (`LimitPolicy.tightened`).
    private func templated(_ template: JSONValue, members: [(String, JSONValue)], value: JSONValue) throws(APIError) -> JobSpec {
        for (key, _) in members where !Self.templateFields.contains(key) {
            throw .invalid(field: key, detail: "'\(key)' cannot be set with a template (it fixes it); allowed: \(Self.templateFields.sorted().joined(separator: ", "))")
        }
        guard case let .string(name) = template else { throw .invalid(field: "template", detail: "template must be a string, not \(template.kindName)") }
        guard let found = templates.template(named: name) else {
            let known = templates.templates.isEmpty ? "this server has none (--templates)" : "known: " + templates.templates.map(\.name).joined(separator: ", ")
            throw .invalid(field: "template", detail: "no template named '\(name)'; \(known)")
        }
        var spec = found.base
        spec.command = try found.expand(value["params"])
        if let v = present(value["name"]) { spec.name = try self.name(v) }
        if let v = present(value["labels"]) { spec.labels.merge(try labels(v)) { _, new in new } }
        let fixed = Self.fixedOrchestration(found.base)
        if let key = members.first(where: { fixed.contains($0.0) && present($0.1) != nil })?.0 {
            throw .invalid(field: key, detail: "'\(key)' is fixed by template '\(name)' and cannot be set in the request")
        }
        try orchestration(value, into: &spec)
        if let v = present(value["limits"]) { spec.limits = try limits.tightened(found.base.limits, by: v, template: name) }
        return spec
    }

    /// The orchestration fields a template sets, so a request cannot: a key fixes its limit too,
    /// and either start time fixes both.
    private static func fixedOrchestration(_ base: JobSpec) -> Set<String> {
        var fixed = Set<String>()
        if base.concurrencyKey != nil { fixed.formUnion(["concurrency_key", "concurrency_limit"]) }
        if base.runAt != nil || base.delaySeconds != nil { fixed.formUnion(["run_at", "delay_seconds"]) }
        if base.retry != nil { fixed.insert("retry") }
        if base.priority != nil { fixed.insert("priority") }
        return fixed
    }

    /// The job fields of a body (or of a template in the templates file), each checked.
    func decodeFields(_ value: JSONValue) throws(APIError) -> JobSpec {
        guard case let .object(members) = value else { throw .malformedBody("the request body must be a JSON object, not \(value.kindName)") }
        for (key, _) in members where !Self.fields.contains(key) {
            let also = templates.templates.isEmpty ? "" : " (or template, params)"
            throw .invalid(field: key, detail: "unknown field '\(key)'; allowed: \(Self.fields.sorted().joined(separator: ", "))\(also)")
        }
        guard let commandValue = present(value["command"]) else {
            throw .invalid(field: "command", detail: "command is required: a non-empty array of strings")
        }
        var spec = JobSpec(command: try command(commandValue, field: "command"))
        if let v = present(value["env"]) { spec.env = try env(v) }
        if let v = present(value["stdin"]) {
            guard case let .string(s) = v else { throw .invalid(field: "stdin", detail: "stdin must be a string, not \(v.kindName)") }
            spec.stdin = s
        }
        if let v = present(value["timeout_seconds"]) { spec.timeoutSeconds = try timeout(v, field: "timeout_seconds") }
        if let v = present(value["grace_seconds"]) {
            guard case let .number(n) = v, n >= 0 else { throw .invalid(field: "grace_seconds", detail: "grace_seconds must be a number >= 0") }
            guard n <= maxTimeout else {
                throw .invalid(field: "grace_seconds", detail: "grace_seconds must be at most \(format(maxTimeout)) (--max-timeout)")
            }
            spec.graceSeconds = n
        }
        if let v = present(value["cleanup"]) { spec.cleanup = try cleanup(v) }
        if let v = present(value["name"]) { spec.name = try name(v) }
        if let v = present(value["labels"]) { spec.labels = try labels(v) }
        if let v = present(value["notify"]) { spec.notify = try notify(v) }
        spec.limits = try limits.limits(present(value["limits"]))
        if let v = present(value["user"]) { spec.user = try user(v) }
        try orchestration(value, into: &spec)
        return spec
    }

    private func name(_ v: JSONValue) throws(APIError) -> String {
        guard case let .string(s) = v else { throw .invalid(field: "name", detail: "name must be a string, not \(v.kindName)") }
        guard s.count <= 200 else { throw .invalid(field: "name", detail: "name must be at most 200 characters") }
        guard !s.utf8.contains(0) else { throw .invalid(field: "name", detail: "name must not contain NUL") }
        return s
    }

    private func user(_ v: JSONValue) throws(APIError) -> String {
        guard case let .string(name) = v else { throw .invalid(field: "user", detail: "user must be a string, not \(v.kindName)") }
        guard allowedUsers.contains(name) else {
            let detail = allowedUsers.isEmpty
                ? "user '\(name)' is not allowed: this server runs every job as its own user (see --job-user, --allow-users)"
                : "user '\(name)' is not allowed; allowed: \(allowedUsers.sorted().joined(separator: ", ")) (--allow-users)"
            throw .invalid(field: "user", detail: detail)
        }
        return name
    }

    // MARK: - Orchestration fields (CONTRACT.md, "Orchestration")

    private func orchestration(_ value: JSONValue, into spec: inout JobSpec) throws(APIError) {
        if let v = present(value["concurrency_key"]) {
            guard case let .string(key) = v, (1...200).contains(key.count), !key.utf8.contains(0) else {
                throw .invalid(field: "concurrency_key", detail: "concurrency_key must be a string of 1-200 characters")
            }
            spec.concurrencyKey = key
        }
        if let v = present(value["concurrency_limit"]) {
            guard spec.concurrencyKey != nil else {
                throw .invalid(field: "concurrency_limit", detail: "concurrency_limit needs a concurrency_key")
            }
            spec.concurrencyLimit = try integer(v, field: "concurrency_limit", in: 1...1_000_000)
        }
        if let v = present(value["run_at"]) {
            guard case let .string(text) = v, let at = Timestamp(rfc3339: text) else {
                throw .invalid(field: "run_at", detail: "run_at must be an RFC 3339 time, e.g. 2026-12-01T08:00:00Z")
            }
            spec.runAt = at
        }
        if let v = present(value["delay_seconds"]) {
            guard spec.runAt == nil else {
                throw .invalid(field: "delay_seconds", detail: "give run_at or delay_seconds, not both")
            }
            guard case let .number(n) = v, n > 0, n <= Self.maxDelay else {
                throw .invalid(field: "delay_seconds", detail: "delay_seconds must be a number > 0 (at most \(format(Self.maxDelay)))")
            }
            spec.delaySeconds = n
        }
        if let v = present(value["retry"]) { spec.retry = try retry(v) }
        if let v = present(value["priority"]) { spec.priority = try integer(v, field: "priority", in: JobSpec.priorityRange) }
    }

    /// Longest `delay_seconds` accepted (ten years).
    static let maxDelay: Double = 315_360_000

    private func retry(_ v: JSONValue) throws(APIError) -> RetryPolicy {
        guard case let .object(members) = v else {
            throw .invalid(field: "retry", detail: "retry must be an object {\"max_attempts\": n, \"backoff_seconds\": s, \"on\": [...]}")
        }
        for (key, _) in members where !["max_attempts", "backoff_seconds", "on"].contains(key) {
            throw .invalid(field: "retry.\(key)", detail: "unknown field 'retry.\(key)'; allowed: backoff_seconds, max_attempts, on")
        }
        guard let attempts = present(v["max_attempts"]) else {
            throw .invalid(field: "retry.max_attempts", detail: "retry.max_attempts is required: an integer from 1 to 20")
        }
        var policy = RetryPolicy(maxAttempts: try integer(attempts, field: "retry.max_attempts", in: RetryPolicy.attemptRange))
        if let b = present(v["backoff_seconds"]) {
            guard case let .number(n) = b, n >= 0, n.isFinite else {
                throw .invalid(field: "retry.backoff_seconds", detail: "retry.backoff_seconds must be a number >= 0")
            }
            policy.backoffSeconds = n
        }
        if let o = present(v["on"]) {
            let detail = "retry.on must be a non-empty array of \"failed\" and \"timed_out\""
            guard case let .array(items) = o, !items.isEmpty else { throw .invalid(field: "retry.on", detail: detail) }
            var states: [JobState] = []
            for item in items {
                guard case let .string(s) = item, let state = JobState(rawValue: s), RetryPolicy.retriableStates.contains(state) else {
                    throw .invalid(field: "retry.on", detail: detail)
                }
                if !states.contains(state) { states.append(state) }
            }
            policy.on = states
        }
        return policy
    }

    private func integer(_ v: JSONValue, field: String, in range: ClosedRange<Int>) throws(APIError) -> Int {
        guard case let .number(n) = v, n.rounded() == n, n >= Double(range.lowerBound), n <= Double(range.upperBound) else {
            throw .invalid(field: field, detail: "\(field) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(n)
    }

    private func present(_ v: JSONValue?) -> JSONValue? {
        if case .null = v { return nil }
        return v
    }

    private func command(_ v: JSONValue, field: String) throws(APIError) -> [String] {
        guard case let .array(items) = v, !items.isEmpty else {
            throw .invalid(field: field, detail: "\(field) must be a non-empty array of strings")
        }
        var argv: [String] = []
        for item in items {
            guard case let .string(s) = item else { throw .invalid(field: field, detail: "\(field) must be a non-empty array of strings") }
            guard !s.utf8.contains(0) else { throw .invalid(field: field, detail: "\(field) arguments must not contain NUL") }
            argv.append(s)
        }
        guard !argv[0].isEmpty else { throw .invalid(field: field, detail: "\(field)[0] (the program) must not be empty") }
        return argv
    }

    private func env(_ v: JSONValue) throws(APIError) -> [String: String] {
        guard case let .object(members) = v else { throw .invalid(field: "env", detail: "env must be an object of strings") }
        var env: [String: String] = [:]
        for (k, value) in members {
            guard case let .string(s) = value else { throw .invalid(field: "env", detail: "env.\(k) must be a string") }
            guard !k.isEmpty, !k.contains("="), !k.utf8.contains(0), !s.utf8.contains(0) else {
                throw .invalid(field: "env", detail: "env names must be non-empty without '=' or NUL, values without NUL")
            }
            env[k] = s
        }
        return env
    }

    private func timeout(_ v: JSONValue, field: String) throws(APIError) -> Double {
        guard case let .number(n) = v, n > 0 else { throw .invalid(field: field, detail: "\(field) must be a number > 0") }
        guard n <= maxTimeout else {
            throw .invalid(field: field, detail: "\(field) must be at most \(format(maxTimeout)) (--max-timeout)")
        }
        return n
    }

    private func cleanup(_ v: JSONValue) throws(APIError) -> CleanupSpec {
        guard case let .object(members) = v else {
            throw .invalid(field: "cleanup", detail: "cleanup must be an object {\"command\": [...], \"timeout_seconds\": n}")
        }
        for (key, _) in members where key != "command" && key != "timeout_seconds" {
            throw .invalid(field: "cleanup.\(key)", detail: "unknown field 'cleanup.\(key)'; allowed: command, timeout_seconds")
        }
        guard let c = present(v["command"]) else {
            throw .invalid(field: "cleanup.command", detail: "cleanup.command is required: a non-empty array of strings")
        }
        var spec = CleanupSpec(command: try command(c, field: "cleanup.command"))
        if let t = present(v["timeout_seconds"]) { spec.timeoutSeconds = try timeout(t, field: "cleanup.timeout_seconds") }
        return spec
    }

    private func notify(_ v: JSONValue) throws(APIError) -> NotifySpec {
        guard case let .object(members) = v else { throw .invalid(field: "notify", detail: "notify must be an object {\"url\": \"https://…\"}") }
        for (key, _) in members where key != "url" {
            throw .invalid(field: "notify.\(key)", detail: "unknown field 'notify.\(key)'; allowed: url")
        }
        guard case let .string(url)? = present(v["url"]) else {
            throw .invalid(field: "notify.url", detail: "notify.url is required: an http:// or https:// URL")
        }
        do { try webhookAllow.check(url) } catch { throw .invalid(field: "notify.url", detail: "notify.url: \(error)") }
        return NotifySpec(url: url)
    }

    /// Labels (of a job or a group): keys 1–63 of `A-Za-z0-9._/-`, values ≤ 256 characters.
    func labels(_ v: JSONValue) throws(APIError) -> [String: String] {
        guard case let .object(members) = v else { throw .invalid(field: "labels", detail: "labels must be an object of strings") }
        var labels: [String: String] = [:]
        for (k, value) in members {
            guard Self.isLabelKey(k) else {
                throw .invalid(field: "labels", detail: "labels: key '\(k)' must be 1-63 characters of A-Za-z0-9._/-")
            }
            guard case let .string(s) = value, s.count <= 256 else {
                throw .invalid(field: "labels", detail: "labels.\(k) must be a string of at most 256 characters")
            }
            guard !s.utf8.contains(0) else { throw .invalid(field: "labels", detail: "labels.\(k) must not contain NUL") }
            labels[k] = s
        }
        return labels
    }

    /// 1–63 characters of `A-Za-z0-9._/-`.
    static func isLabelKey(_ key: String) -> Bool {
        let u = key.utf8
        return (1...63).contains(u.count) && u.allSatisfy { b in
            (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 46 || b == 95 || b == 47 || b == 45
        }
    }

    private func format(_ seconds: Double) -> String {
        seconds.rounded() == seconds ? String(Int64(seconds)) : String(seconds)
    }
}
