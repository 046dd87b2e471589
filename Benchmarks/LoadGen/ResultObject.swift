import JobsdAPI

/// The one JSON object a subcommand prints on stdout (keys sorted; reals rounded to 0.001).
struct ResultObject {
    private(set) var members: [(String, JSONValue)] = []

    mutating func set(_ key: String, _ value: Int) { members.append((key, .number(Double(value)))) }
    mutating func set(_ key: String, _ value: Double?) {
        members.append((key, value.map { .number(($0 * 1000).rounded() / 1000) } ?? .null))
    }
    mutating func set(_ key: String, _ value: String) { members.append((key, .string(value))) }
    mutating func set(_ key: String, _ value: Bool) { members.append((key, .bool(value))) }

    /// Prints the object as one line.
    func emit() { print(JSONValue.object(members).canonicalText) }
}

/// The `error` object a subcommand prints when its measure could not run.
func emitFailure(_ error: any Error) {
    var result = ResultObject()
    result.set("error", "\(error)")
    result.emit()
}
