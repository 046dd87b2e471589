import Foundation
import JobsdAPI

/// One line of the results table. `met` is nil for rows without a target (shown for context);
/// `error` is set when the measure could not run.
struct ReportRow {
    var measure: String
    var value: Double?
    var reference: Double?
    var referenceName = ""
    var target = "—"
    var met: Bool?
    var note = ""
    var error: String?

    var ratio: Double? {
        guard let value, let reference, reference > 0 else { return nil }
        return value / reference
    }

    var cells: [String] {
        if let error { return [measure, "could not run", "", "", target, "ERROR: \(error)"] }
        let ref = reference.map { "\(Self.format($0)) \(referenceName)" } ?? "—"
        let verdict = met.map { $0 ? "yes" : "NO" } ?? "—"
        return [measure, value.map(Self.format) ?? "—", ref, ratio.map { String(format: "%.2f×", $0) } ?? "—", target,
                note.isEmpty ? verdict : "\(verdict) (\(note))"]
    }

    var json: JSONValue {
        func number(_ d: Double?) -> JSONValue { d.map { .number(($0 * 1000).rounded() / 1000) } ?? .null }
        return .object([
            ("measure", .string(measure)), ("value", number(value)), ("reference", number(reference)),
            ("reference_name", .string(referenceName)), ("ratio", number(ratio)), ("target", .string(target)),
            ("met", met.map(JSONValue.bool) ?? .null), ("note", .string(note)), ("error", error.map(JSONValue.string) ?? .null),
        ])
    }

    static func format(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return abs(d) >= 100 ? String(format: "%.0f", d) : abs(d) >= 1 ? String(format: "%.2f", d) : String(format: "%.3f", d)
    }
}
