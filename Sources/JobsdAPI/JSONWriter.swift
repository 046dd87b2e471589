/// Appends JSON tokens to a string. Used to write wire types without Foundation's encoder,
/// which matters on the hot read path (`GET /v1/jobs/{id}`).
public struct JSONWriter: Sendable {
    public private(set) var text = ""

    public init() { text.reserveCapacity(512) }

    public mutating func raw(_ s: String) { text += s }

    public mutating func string(_ s: String) {
        text += "\""
        // Fast path: most strings (ids, states, times, argv) need no escaping.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            text += s
            text += "\""
            return
        }
        for u in s.unicodeScalars {
            switch u {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    text.unicodeScalars.append(u)
                }
            }
        }
        text += "\""
    }

    public mutating func number(_ n: Double) {
        if n.rounded() == n, abs(n) < 1e15 { text += String(Int64(n)) } else { text += "\(n)" }
    }

    /// `[…]` with each item written by `write`.
    public mutating func array<T>(_ items: [T], _ write: (T, inout JSONWriter) -> Void) {
        raw("[")
        for (i, item) in items.enumerated() {
            if i > 0 { raw(",") }
            write(item, &self)
        }
        raw("]")
    }

    public mutating func optional<T>(_ value: T?, _ write: (inout JSONWriter, T) -> Void) {
        if let value { write(&self, value) } else { raw("null") }
    }

    /// `{"k":"v",…}` with keys sorted, for string maps (env, labels).
    public mutating func stringMap(_ map: [String: String]) {
        raw("{")
        for (i, k) in map.keys.sorted().enumerated() {
            if i > 0 { raw(",") }
            string(k)
            raw(":")
            string(map[k]!)
        }
        raw("}")
    }

    /// `{"id":…,"name":…,"labels":{…}`: how a job's and a group's objects begin (CONTRACT.md's
    /// field order); the caller writes the rest and the closing brace.
    public mutating func beginObject(id: String, name: String?, labels: [String: String]) {
        raw("{\"id\":"); string(id)
        raw(",\"name\":"); optional(name) { $0.string($1) }
        raw(",\"labels\":"); stringMap(labels)
    }

    public mutating func stringArray(_ items: [String]) {
        raw("[")
        for (i, s) in items.enumerated() {
            if i > 0 { raw(",") }
            string(s)
        }
        raw("]")
    }
}

/// A wire type written by hand with `JSONWriter` (no Foundation encoder on the hot path).
public protocol JSONWritable {
    func write(into w: inout JSONWriter)
}

extension JSONWritable {
    /// The wire JSON.
    public var json: String {
        var w = JSONWriter()
        write(into: &w)
        return w.text
    }
}
