/// A `POST /v1/jobs` body that runs a server-side command template (`GET /v1/templates`):
/// the template's name, its parameters (each a JSON value of the parameter's type), and
/// optionally the job's name, labels and priority. The template fixes everything else.
public struct TemplateRequest: Sendable, Equatable {
    public var template: String
    public var params: [String: JSONValue]
    public var name: String?
    public var labels: [String: String]
    /// nil: the template's, else 0.
    public var priority: Int?

    public init(
        template: String, params: [String: JSONValue] = [:], name: String? = nil, labels: [String: String] = [:], priority: Int? = nil
    ) {
        self.template = template
        self.params = params
        self.name = name
        self.labels = labels
        self.priority = priority
    }

    /// The JSON request body (params in key order).
    public var json: String {
        var w = JSONWriter()
        w.raw(#"{"template":"#)
        w.string(template)
        w.raw(#","params":"#)
        JSONValue.object(params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }).write(canonical: true, into: &w)
        if let name { w.raw(#","name":"#); w.string(name) }
        if !labels.isEmpty { w.raw(#","labels":"#); w.stringMap(labels) }
        if let priority { w.raw(#","priority":"#); w.raw(String(priority)) }
        w.raw("}")
        return w.text
    }
}
