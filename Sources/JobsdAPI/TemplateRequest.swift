/// A `POST /v1/jobs` body that runs a server-side command template (`GET /v1/templates`):
/// the template's name, its parameters (each a JSON value of the parameter's type), and
/// optionally the job's name, labels and the orchestration fields (concurrency key and limit,
/// start time, retry policy, priority) where the template does not set them (the server refuses
/// one it sets, naming the field), and limits no higher than the template's. The template fixes
/// everything else.
public struct TemplateRequest: Sendable, Equatable {
    public var template: String
    public var params: [String: JSONValue]
    public var name: String?
    public var labels: [String: String]
    /// nil: the template's, else 0.
    public var priority: Int?
    public var concurrencyKey: String?
    public var concurrencyLimit: Int?
    public var runAt: Timestamp?
    public var delaySeconds: Double?
    public var retry: RetryPolicy?
    /// Limits that lower the template's (a kind it sets) or add one it leaves open.
    public var limits: JobLimits?

    public init(
        template: String, params: [String: JSONValue] = [:], name: String? = nil, labels: [String: String] = [:], priority: Int? = nil,
        concurrencyKey: String? = nil, concurrencyLimit: Int? = nil, runAt: Timestamp? = nil, delaySeconds: Double? = nil,
        retry: RetryPolicy? = nil, limits: JobLimits? = nil
    ) {
        self.template = template
        self.params = params
        self.name = name
        self.labels = labels
        self.priority = priority
        self.concurrencyKey = concurrencyKey
        self.concurrencyLimit = concurrencyLimit
        self.runAt = runAt
        self.delaySeconds = delaySeconds
        self.retry = retry
        self.limits = limits
    }

    /// The JSON request body (params in key order; absent optionals omitted).
    public var json: String {
        var w = JSONWriter()
        w.raw(#"{"template":"#)
        w.string(template)
        w.raw(#","params":"#)
        JSONValue.object(params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }).write(canonical: true, into: &w)
        if let name { w.raw(#","name":"#); w.string(name) }
        if !labels.isEmpty { w.raw(#","labels":"#); w.stringMap(labels) }
        if let concurrencyKey { w.raw(#","concurrency_key":"#); w.string(concurrencyKey) }
        if let concurrencyLimit { w.raw(#","concurrency_limit":"#); w.raw(String(concurrencyLimit)) }
        if let runAt { w.raw(#","run_at":"#); w.string(runAt.description) }
        if let delaySeconds { w.raw(#","delay_seconds":"#); w.number(delaySeconds) }
        if let retry { w.raw(#","retry":"#); retry.write(into: &w) }
        if let priority { w.raw(#","priority":"#); w.raw(String(priority)) }
        if let limits { w.raw(#","limits":"#); limits.write(into: &w) }
        w.raw("}")
        return w.text
    }
}
