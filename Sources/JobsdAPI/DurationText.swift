/// Durations as people type them: plain seconds (`90`, `1.5`) or a number with a suffix
/// (`500ms`, `30s`, `5m`, `2h`, `7d`). Used by jobsd's flags and jobctl's options.
public enum DurationText {
    /// Seconds, or nil when `text` is not a non-negative finite duration.
    public static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var number = Substring(text)
        var scale = 1.0
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            scale = factor
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(number), value.isFinite
        else { return nil }
        return value * scale
    }
}
