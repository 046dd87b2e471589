import JobsdAPI

/// One named command template of `--templates FILE`: a fixed argv in which elements that are
/// exactly `{name}` are filled from validated parameters, plus the job fields it fixes (timeout,
/// grace, limits, env, cleanup, user, labels, name, and any orchestration fields it sets). A
/// parameter value becomes one whole argv element: it is never split, joined with other text or
/// handed to a shell, and the loader refuses templates where it could be (a placeholder as the
/// program, inside a longer element, or as the script of `sh -c`).
struct JobTemplate: Sendable {
    /// An argv element: fixed text, or the value of a parameter.
    enum Element: Sendable {
        case literal(String)
        case parameter(String)
    }

    let name: String
    let description: String?
    let command: [Element]
    /// The parameters in the file's order.
    let parameters: [(name: String, rule: TemplateParameter)]
    /// The job fields the template fixes, validated like a request (its command holds the
    /// placeholders until `expand`).
    let base: JobSpec

    /// Fields of a template besides the job fields a request may hold.
    static let ownFields: Set<String> = ["description", "params"]

    /// Reads the template `name` from the file's JSON; job fields are checked by `decoder` (with
    /// the server's limits, caps and users), the rest here. Throws a sentence naming the field.
    init(name: String, definition: JSONValue, decoder: JobSpecDecoder) throws(TemplateFileError) {
        guard case let .object(members) = definition else { throw TemplateFileError("templates.\(name) must be an object") }
        self.name = name
        switch definition["description"] {
        case nil: description = nil
        case let .string(text)?: description = text
        default: throw TemplateFileError("templates.\(name).description must be a string")
        }
        var parameters: [(String, TemplateParameter)] = []
        switch definition["params"] {
        case nil: break
        case let .object(params)?:
            for (key, rule) in params {
                guard Self.isParameterName(key) else {
                    throw TemplateFileError("templates.\(name).params.\(key): names are 1-64 of A-Za-z0-9_ (not starting with a digit)")
                }
                do { parameters.append((key, try TemplateParameter(definition: rule))) } catch {
                    throw TemplateFileError("templates.\(name).params.\(key): \(error)")
                }
            }
        default: throw TemplateFileError("templates.\(name).params must be an object")
        }
        self.parameters = parameters
        let jobFields = JSONValue.object(members.filter { !Self.ownFields.contains($0.0) })
        do { base = try decoder.decodeFields(jobFields) } catch {
            throw TemplateFileError("templates.\(name): \(error.detail)")
        }
        let names = Set(parameters.map(\.0))
        var command: [Element] = []
        var used = Set<String>()
        for (i, text) in base.command.enumerated() {
            let whole = Self.placeholder(text)
            if let whole {
                guard names.contains(whole) else { throw TemplateFileError("templates.\(name).command[\(i)]: {\(whole)} is not a declared parameter") }
                guard i > 0 else { throw TemplateFileError("templates.\(name).command[0]: the program cannot be a parameter") }
                if i >= 2, Self.isShell(base.command[0]), base.command[i - 1] == "-c" {
                    throw TemplateFileError(
                        "templates.\(name).command[\(i)]: a parameter cannot be the script of \(base.command[0]) -c (it would reach a shell); "
                            + "pass it as a positional argument after the script: [\"sh\", \"-c\", \"… \\\"$1\\\"\", \"sh\", \"{\(whole)}\"]")
                }
                command.append(.parameter(whole))
                used.insert(whole)
            } else {
                if let inner = names.first(where: { text.contains("{\($0)}") }) {
                    throw TemplateFileError("templates.\(name).command[\(i)]: {\(inner)} must be a whole argv element, not part of \"\(text)\"")
                }
                command.append(.literal(text))
            }
        }
        if let unused = parameters.map(\.0).first(where: { !used.contains($0) }) {
            throw TemplateFileError("templates.\(name).params.\(unused) is declared but not used in command")
        }
        self.command = command
    }

    /// The name inside an element that is exactly `{name}`, else nil.
    static func placeholder(_ text: String) -> String? {
        guard text.hasPrefix("{"), text.hasSuffix("}"), text.count > 2 else { return nil }
        let inner = String(text.dropFirst().dropLast())
        return isParameterName(inner) ? inner : nil
    }

    static func isParameterName(_ text: String) -> Bool {
        let u = Array(text.utf8)
        guard (1...64).contains(u.count), !(u[0] >= 48 && u[0] <= 57) else { return false }
        return u.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }

    private static func isShell(_ program: String) -> Bool {
        let base = program.split(separator: "/").last.map(String.init) ?? program
        return ["sh", "bash", "dash", "zsh", "ksh", "ash", "busybox"].contains(base)
    }

    /// The job's argv for `params` (a request's `params` object, nil: none given). Every
    /// parameter is checked; a bad, unknown or missing one is a 400 naming `params.<name>`.
    func expand(_ params: JSONValue?) throws(APIError) -> [String] {
        var given: [(String, JSONValue)] = []
        switch params {
        case nil, .null?: break
        case let .object(members)?: given = members
        case let value?: throw .invalid(field: "params", detail: "params must be an object, not \(value.kindName)")
        }
        var values: [String: String] = [:]
        for (key, value) in given {
            guard let rule = parameters.first(where: { $0.name == key })?.rule else {
                let known = parameters.isEmpty ? "none" : parameters.map(\.name).joined(separator: ", ")
                throw .invalid(field: "params.\(key)", detail: "template '\(name)' has no parameter '\(key)'; it takes: \(known)")
            }
            if let why = rule.problem(value) { throw .invalid(field: "params.\(key)", detail: "params.\(key) \(why)") }
            values[key] = TemplateParameter.argument(value)
        }
        for (key, rule) in parameters where values[key] == nil {
            guard let value = rule.defaultValue else {
                throw .invalid(field: "params.\(key)", detail: "params.\(key) is required by template '\(name)'")
            }
            values[key] = TemplateParameter.argument(value)
        }
        return command.map { element in
            switch element {
            case let .literal(text): text
            case let .parameter(key): values[key]!
            }
        }
    }

    /// `{"name", "description", "command", "params", …}` for `GET /v1/templates`: the command
    /// with its placeholders, the parameters' rules, and the fixed timeout, grace, limits, user and
    /// orchestration fields.
    func write(into w: inout JSONWriter) {
        w.raw(#"{"name":"#)
        w.string(name)
        w.raw(#","description":"#)
        w.optional(description) { $0.string($1) }
        w.raw(#","command":"#)
        w.stringArray(base.command)
        w.raw(#","params":{"#)
        for (i, parameter) in parameters.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(parameter.name)
            w.raw(":")
            parameter.rule.write(into: &w)
        }
        w.raw("}")
        if let timeout = base.timeoutSeconds { w.raw(#","timeout_seconds":"#); w.number(timeout) }
        if let grace = base.graceSeconds { w.raw(#","grace_seconds":"#); w.number(grace) }
        if let limits = base.limits { w.raw(#","limits":"#); limits.write(into: &w) }
        if let user = base.user { w.raw(#","user":"#); w.string(user) }
        if let key = base.concurrencyKey { w.raw(#","concurrency_key":"#); w.string(key) }
        if let limit = base.concurrencyLimit { w.raw(#","concurrency_limit":"#); w.raw(String(limit)) }
        if let runAt = base.runAt { w.raw(#","run_at":"#); w.string(runAt.description) }
        if let delay = base.delaySeconds { w.raw(#","delay_seconds":"#); w.number(delay) }
        if let retry = base.retry { w.raw(#","retry":"#); retry.write(into: &w) }
        if let priority = base.priority { w.raw(#","priority":"#); w.raw(String(priority)) }
        w.raw("}")
    }
}
