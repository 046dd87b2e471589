/// SQL text that hashes as one integer computed when it is made: the key of a connection's
/// statement cache. A statement run per write (the 24-column INSERT) is kept in a `static let`,
/// so looking it up does not hash its few hundred bytes again each time.
struct SQLiteSQL: Hashable, Sendable, ExpressibleByStringInterpolation {
    let text: String
    private let hashCode: Int

    init(_ text: String) {
        self.text = text
        hashCode = text.hashValue
    }

    init(stringLiteral text: String) { self.init(text) }

    init(stringInterpolation: DefaultStringInterpolation) { self.init(String(stringInterpolation: stringInterpolation)) }

    static func == (lhs: SQLiteSQL, rhs: SQLiteSQL) -> Bool { lhs.hashCode == rhs.hashCode && lhs.text == rhs.text }

    func hash(into hasher: inout Hasher) { hasher.combine(hashCode) }
}
