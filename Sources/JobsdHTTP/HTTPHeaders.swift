/// Header fields in the order they were received or added. Names compare ASCII-case-insensitively
/// (RFC 9110 §5.1); values are kept as sent (without surrounding whitespace).
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByArrayLiteral {
    public typealias Element = (name: String, value: String)

    private var fields: [Element]

    public init() { fields = [] }

    public init(_ pairs: [(String, String)]) {
        fields = pairs.map { (name: $0.0, value: $0.1) }
    }

    public init(arrayLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The first value of `name`, nil when absent.
    public subscript(name: String) -> String? {
        for field in fields where Self.namesEqual(field.name, name) { return field.value }
        return nil
    }

    /// Every value of `name`, one per field line, in order.
    public func values(_ name: String) -> [String] {
        fields.compactMap { Self.namesEqual($0.name, name) ? $0.value : nil }
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    public var count: Int { fields.count }

    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every value of `name` with one value (added at the end when absent).
    public mutating func set(_ name: String, _ value: String) {
        if let first = fields.firstIndex(where: { Self.namesEqual($0.name, name) }) {
            fields[first].value = value
            var index = fields.count - 1
            while index > first {
                if Self.namesEqual(fields[index].name, name) { fields.remove(at: index) }
                index -= 1
            }
        } else {
            add(name, value)
        }
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { Self.namesEqual($0.name, name) }
    }

    public func makeIterator() -> IndexingIterator<[Element]> { fields.makeIterator() }

    /// ASCII case-insensitive comparison of two field names, without allocating.
    static func namesEqual(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var ai = a.utf8.makeIterator()
        var bi = b.utf8.makeIterator()
        while true {
            switch (ai.next(), bi.next()) {
            case (nil, nil): return true
            case let (x?, y?):
                if x != y && ASCII.lowercased(x) != ASCII.lowercased(y) { return false }
            default: return false
            }
        }
    }

    /// The comma-separated list elements of every `name` field, trimmed and lowercased
    /// (RFC 9110 §5.6.1), e.g. for `Connection` and `Transfer-Encoding`.
    func lowercasedTokens(_ name: String) -> [String] {
        var tokens: [String] = []
        for value in values(name) {
            for part in value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true) {
                let trimmed = ASCII.trimmingWhitespace(part)
                if !trimmed.isEmpty { tokens.append(String(decoding: trimmed.map(ASCII.lowercased), as: UTF8.self)) }
            }
        }
        return tokens
    }
}
