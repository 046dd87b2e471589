import JobsdAPI
import JobsdCore
import JobsdHTTP
import JobsdStore

/// Typed access to a request's query parameters; every bad value is an `APIError.invalid` naming it.
/// Out-of-range values are rejected, never clamped.
struct QueryParameters {
    let request: HTTPRequest

    /// A single number in `range`, or nil when absent.
    func number(_ name: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
        let values = request.queryValues(name)
        guard let text = values.last else { return nil }
        guard values.count == 1, let n = Double(text), n.isFinite, range.contains(n) else {
            throw .invalid(field: name, detail: "\(name) must be a number from \(fmt(range.lowerBound)) to \(fmt(range.upperBound))")
        }
        return n
    }

    /// A single whole number in `range`, or nil when absent.
    func integer(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        let values = request.queryValues(name)
        guard let text = values.last else { return nil }
        guard values.count == 1, let n = Int(text), range.contains(n) else {
            throw .invalid(field: name, detail: "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// `true`/`false` (also `1`/`0`), default false.
    func flag(_ name: String) throws(APIError) -> Bool {
        let values = request.queryValues(name)
        guard let text = values.last else { return false }
        switch text.lowercased() {
        case "true", "1", "": return true
        case "false", "0": return false
        default: throw .invalid(field: name, detail: "\(name) must be true or false")
        }
    }

    func stream() throws(APIError) -> LogStream? {
        guard let text = request.queryValue("stream") else { return nil }
        guard let s = LogStream(rawValue: text) else { throw .invalid(field: "stream", detail: "stream must be stdout or stderr") }
        return s
    }

    /// Repeated `state` (or comma-separated) means any of them.
    func states() throws(APIError) -> Set<JobState> {
        var states = Set<JobState>()
        for text in request.queryValues("state") {
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let s = JobState(rawValue: String(part)) else {
                    let all = JobState.allCases.map(\.rawValue).joined(separator: ", ")
                    throw .invalid(field: "state", detail: "state '\(part)' is not one of \(all)")
                }
                states.insert(s)
            }
        }
        return states
    }

    /// Repeated `label=key:value` means all of them; split at the first ':'.
    func labels() throws(APIError) -> [String: String] {
        var labels: [String: String] = [:]
        for text in request.queryValues("label") {
            guard let colon = text.firstIndex(of: ":") else {
                throw .invalid(field: "label", detail: "label filter '\(text)' must be key:value")
            }
            let key = String(text[..<colon])
            let value = String(text[text.index(after: colon)...])
            guard JobSpecDecoder.isLabelKey(key) else {
                throw .invalid(field: "label", detail: "label key '\(key)' must be 1-63 characters of A-Za-z0-9._/-")
            }
            guard value.count <= 256 else { throw .invalid(field: "label", detail: "label value must be at most 256 characters") }
            if let existing = labels[key], existing != value {
                labels[key] = "\u{0}"  // two different values for one key can never both match
            } else {
                labels[key] = value
            }
        }
        return labels
    }

    /// The paging cursor: the id of the last job of the previous page.
    func cursor() throws(APIError) -> JobListPosition? {
        guard let text = request.queryValue("cursor") else { return nil }
        guard let position = JobListPosition(cursor: text) else {
            throw .invalid(field: "cursor", detail: "cursor is not a value this server returned")
        }
        return position
    }

    /// `cursor=` of `GET /v1/groups`: the id of the last group of the previous page.
    func groupCursor() throws(APIError) -> String? {
        guard let text = request.queryValue("cursor") else { return nil }
        guard JobIDGenerator.isWellFormed(text) else { throw .invalid(field: "cursor", detail: "cursor is not a value this server returned") }
        return text
    }

    /// `group=ID`: only the jobs of this group.
    func group() throws(APIError) -> String? {
        guard let text = request.queryValue("group") else { return nil }
        guard JobIDGenerator.isWellFormed(text) else { throw .invalid(field: "group", detail: "group must be a group id") }
        return text
    }

    /// `?schedule=ID`: only the runs of that schedule.
    func schedule() throws(APIError) -> String? {
        guard let text = request.queryValue("schedule") else { return nil }
        guard JobIDGenerator.isWellFormed(text) else { throw .invalid(field: "schedule", detail: "schedule must be a schedule id") }
        return text
    }

    private func fmt(_ v: Double) -> String { v.rounded() == v ? String(Int64(v)) : String(v) }
}
