import Foundation
import JobsdAPI

/// One parameter of a `JobTemplate` (`"params": {"version": {"type": "string", "pattern": …}}`):
/// its type, and the rules a value must meet — `pattern` (a regular expression the whole string
/// must match), `enum` (the values allowed), `minimum`/`maximum` (numbers), `default` (which makes
/// it optional). A value that passes becomes exactly one argv element, never shell text.
struct TemplateParameter: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        case string, integer, number, boolean
    }

    let kind: Kind
    let pattern: CompiledPattern?
    /// Set last: `enum` and `default` are checked by the rules above.
    private(set) var allowed: [JSONValue]?
    let minimum: Double?
    let maximum: Double?
    private(set) var defaultValue: JSONValue?
    let description: String?

    static let fields: Set<String> = ["type", "pattern", "enum", "minimum", "maximum", "default", "description"]
    /// Longest string value, in bytes.
    static let maxLength = 4096

    /// Reads a parameter's definition from the templates file; throws a sentence naming what is
    /// wrong (the caller adds where).
    init(definition: JSONValue) throws(TemplateFileError) {
        guard case let .object(members) = definition else { throw TemplateFileError("must be an object like {\"type\": \"string\"}") }
        for (key, _) in members where !Self.fields.contains(key) {
            throw TemplateFileError("unknown field '\(key)'; allowed: \(Self.fields.sorted().joined(separator: ", "))")
        }
        switch definition["type"] {
        case nil: kind = .string
        case let .string(text)?:
            guard let k = Kind(rawValue: text) else { throw TemplateFileError("type must be one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))") }
            kind = k
        default: throw TemplateFileError("type must be a string")
        }
        switch definition["pattern"] {
        case nil: pattern = nil
        case let .string(text)?:
            guard kind == .string else { throw TemplateFileError("pattern applies to string parameters only") }
            do { pattern = try CompiledPattern(text) } catch { throw TemplateFileError("pattern is not a valid regular expression: \(text)") }
        default: throw TemplateFileError("pattern must be a string")
        }
        let numeric = kind == .integer || kind == .number
        func number(_ key: String) throws(TemplateFileError) -> Double? {
            guard let v = definition[key] else { return nil }
            guard case let .number(n) = v, numeric else {
                throw TemplateFileError("\(key) must be a number, on integer or number parameters only")
            }
            return n
        }
        let (low, high) = (try number("minimum"), try number("maximum"))
        minimum = low
        maximum = high
        switch definition["description"] {
        case nil: description = nil
        case let .string(text)?: description = text
        default: throw TemplateFileError("description must be a string")
        }
        allowed = nil
        defaultValue = nil
        // `enum` and `default` are values of the parameter: checked by its own rules.
        if let values = definition["enum"] {
            guard case let .array(items) = values, !items.isEmpty else { throw TemplateFileError("enum must be a non-empty array") }
            for item in items {
                if let why = problem(item) { throw TemplateFileError("enum value \(item.canonicalText): \(why)") }
            }
            allowed = items
        }
        if let value = definition["default"] {
            if let why = problem(value) { throw TemplateFileError("default \(value.canonicalText): \(why)") }
            defaultValue = value
        }
    }

    /// Why `value` is not acceptable, or nil.
    func problem(_ value: JSONValue) -> String? {
        switch (kind, value) {
        case let (.string, .string(s)):
            if s.utf8.contains(0) { return "must not contain NUL" }
            if s.utf8.count > Self.maxLength { return "must be at most \(Self.maxLength) bytes" }
            if let pattern, !pattern.matchesWhole(s) { return "must match the pattern \(pattern.text)" }
        case let (.integer, .number(n)), let (.number, .number(n)):
            if kind == .integer, n.rounded() != n || abs(n) > 9e15 { return "must be a whole number" }
            if let minimum, n < minimum { return "must be at least \(LimitPolicy.format(minimum))" }
            if let maximum, n > maximum { return "must be at most \(LimitPolicy.format(maximum))" }
        case (.boolean, .bool):
            break
        default:
            return "must be \(kind == .integer ? "an integer" : "a \(kind.rawValue)"), not \(value.kindName)"
        }
        if let allowed, !allowed.contains(value) {
            return "must be one of \(allowed.map(\.canonicalText).joined(separator: ", "))"
        }
        return nil
    }

    /// The argv element for an accepted value.
    static func argument(_ value: JSONValue) -> String {
        switch value {
        case let .string(s): return s
        case let .bool(b): return b ? "true" : "false"
        default:
            var w = JSONWriter()
            value.write(canonical: true, into: &w)
            return w.text
        }
    }

    /// `{"type":…, "pattern":…, "enum":…, "minimum":…, "maximum":…, "default":…, "required":…,
    /// "description":…}` for `GET /v1/templates`.
    func write(into w: inout JSONWriter) {
        w.raw(#"{"type":"#)
        w.string(kind.rawValue)
        if let pattern { w.raw(#","pattern":"#); w.string(pattern.text) }
        if let allowed { w.raw(#","enum":"#); JSONValue.array(allowed).write(canonical: true, into: &w) }
        if let minimum { w.raw(#","minimum":"#); w.number(minimum) }
        if let maximum { w.raw(#","maximum":"#); w.number(maximum) }
        if let defaultValue { w.raw(#","default":"#); defaultValue.write(canonical: true, into: &w) }
        w.raw(#","required":"#)
        w.raw(defaultValue == nil ? "true" : "false")
        if let description { w.raw(#","description":"#); w.string(description) }
        w.raw("}")
    }
}

/// A regular expression compiled once (NSRegularExpression is immutable and safe to share).
final class CompiledPattern: @unchecked Sendable {
    let text: String
    private let expression: NSRegularExpression

    init(_ text: String) throws {
        self.text = text
        // Anchored at both ends: the whole value must match, not a part of it.
        expression = try NSRegularExpression(pattern: "\\A(?:" + text + ")\\z")
    }

    /// True when the expression matches all of `s`, not just part of it.
    func matchesWhole(_ s: String) -> Bool {
        expression.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
}

/// What is wrong in the templates file, in one sentence (the loader prefixes where).
struct TemplateFileError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
