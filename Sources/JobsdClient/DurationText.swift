import Foundation

/// Durations as people type and read them on a command line: plain seconds (`1.5`) or a
/// number with a unit: `500ms`, `30s`, `5m`, `2h`, `7d` (CONTRACT.md, "Running it").
public enum DurationText {
    private static let units: [(suffix: String, seconds: Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400),
    ]

    /// Seconds for `text`, or nil when it is not a finite, non-negative duration.
    public static func seconds(from text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // Longest suffix first so `ms` is not read as `m` + garbage.
        for (suffix, scale) in units.sorted(by: { $0.suffix.count > $1.suffix.count }) where trimmed.hasSuffix(suffix) {
            return number(String(trimmed.dropLast(suffix.count))).map { $0 * scale }
        }
        return number(trimmed)
    }

    /// A short human form for tables: `850ms`, `42s`, `3m12s`, `5h3m`, `2d4h`.
    public static func format(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 1 { return "\(Int(seconds * 1000))ms" }
        let s = Int(seconds)
        switch s {
        case ..<60: return "\(s)s"
        case ..<3600: return pair(s / 60, "m", s % 60, "s")
        case ..<86400: return pair(s / 3600, "h", s % 3600 / 60, "m")
        default: return pair(s / 86400, "d", s % 86400 / 3600, "h")
        }
    }

    private static func pair(_ a: Int, _ aUnit: String, _ b: Int, _ bUnit: String) -> String {
        b == 0 ? "\(a)\(aUnit)" : "\(a)\(aUnit)\(b)\(bUnit)"
    }

    private static func number(_ text: String) -> Double? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(text), value.isFinite
        else { return nil }
        return value
    }
}
