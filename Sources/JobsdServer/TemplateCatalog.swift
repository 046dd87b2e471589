import Foundation
import JobsdAPI

/// The templates of `--templates FILE`, loaded and checked once at start (a bad file refuses to
/// start, naming the field). The file is JSON:
///
///     {"templates": {"deploy": {"description": "…", "command": ["/opt/deploy", "--env", "{env}", "{version}"],
///       "params": {"env": {"enum": ["staging", "production"]}, "version": {"pattern": "[0-9]+(\\.[0-9]+)*"}},
///       "timeout_seconds": 600, "limits": {"memory_bytes": 536870912}, "env": {…}, "cleanup": {…}, "user": "deploy"}}}
struct TemplateCatalog: Sendable {
    /// In the file's order.
    let templates: [JobTemplate]

    func template(named name: String) -> JobTemplate? { templates.first { $0.name == name } }

    static let empty = TemplateCatalog(templates: [])

    /// Reads and checks `path`; job fields are checked by `decoder` (the server's own rules).
    static func load(path: String, decoder: JobSpecDecoder) throws(TemplateFileError) -> TemplateCatalog {
        guard let data = FileManager.default.contents(atPath: path) else { throw TemplateFileError("--templates: cannot read \(path)") }
        let root: JSONValue
        do { root = try JSONValue.parse(Array(data)) } catch { throw TemplateFileError("--templates \(path) is not valid JSON: \(error)") }
        guard case let .object(top) = root, case let .object(entries)? = root["templates"] else {
            throw TemplateFileError("--templates \(path) must be a JSON object {\"templates\": {\"<name>\": {…}}}")
        }
        if let extra = top.first(where: { $0.0 != "templates" }) {
            throw TemplateFileError("--templates \(path): unknown top-level field '\(extra.0)'")
        }
        var templates: [JobTemplate] = []
        for (name, definition) in entries {
            guard JobTemplate.isTemplateName(name) else {
                throw TemplateFileError("--templates \(path): template names are 1-64 of A-Za-z0-9._- ('\(name)')")
            }
            do { templates.append(try JobTemplate(name: name, definition: definition, decoder: decoder)) } catch {
                throw TemplateFileError("--templates \(path): \(error)")
            }
        }
        return TemplateCatalog(templates: templates)
    }

    /// `{"templates":[…],"templates_only":…}` for `GET /v1/templates`.
    func json(templatesOnly: Bool) -> String {
        var w = JSONWriter()
        w.raw(#"{"templates":["#)
        for (i, template) in templates.enumerated() {
            if i > 0 { w.raw(",") }
            template.write(into: &w)
        }
        w.raw(#"],"templates_only":"#)
        w.raw(templatesOnly ? "true" : "false")
        w.raw("}")
        return w.text
    }
}

extension JobTemplate {
    /// 1–64 characters of `A-Za-z0-9._-`.
    static func isTemplateName(_ text: String) -> Bool {
        let u = text.utf8
        return (1...64).contains(u.count) && u.allSatisfy { b in
            (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 46 || b == 95 || b == 45
        }
    }
}
