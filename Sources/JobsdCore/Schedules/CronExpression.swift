/// A cron expression (CONTRACT-style rules in openapi.yaml, `Schedule.cron`): the standard five
/// fields `minute hour day-of-month month day-of-week`, or six with a leading `second` field,
/// or one of the macros `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`),
/// `@hourly`.
///
/// Each field is `*` or a comma-separated list of `N`, `A-B`, `*/S`, `A-B/S` or `N/S` (from N to
/// the field's maximum, every S). Months and weekdays also take names (`JAN`–`DEC`,
/// `SUN`–`SAT`, any case); day-of-week 0 and 7 are both Sunday. As in Vixie cron, when both
/// day-of-month and day-of-week are restricted (neither starts with `*`) a day matches when
/// EITHER matches; otherwise both must (the `*` one always does). `L`, `W`, `#` and `?` are not
/// supported. The next matching time is `next(after:in:)`.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    /// The expression as given.
    public let description: String
    /// Bit N set: value N matches. Without a seconds field, `seconds` is {0}.
    let seconds: UInt64, minutes: UInt64, hours: UInt64, daysOfMonth: UInt64, months: UInt64, daysOfWeek: UInt64
    /// Whether day-of-month / day-of-week started with `*` (Vixie cron's DOM_STAR / DOW_STAR).
    let dayOfMonthStar: Bool, dayOfWeekStar: Bool
    /// Six fields were given.
    public let hasSeconds: Bool

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    private static let weekdayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// Parses `text`; throws `CronError` naming the field and what is wrong with it.
    public init(parsing text: String) throws(CronError) {
        description = text
        var expanded = text.trimmingWhitespace
        if expanded.hasPrefix("@") {
            guard let macro = Self.macros[expanded.lowercased()] else {
                throw CronError(field: nil, "unknown macro '\(expanded)'; known: \(Self.macros.keys.sorted().joined(separator: ", "))")
            }
            expanded = macro
        }
        var fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw CronError(field: nil,
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading second field, got \(fields.count)")
        }
        hasSeconds = fields.count == 6
        if !hasSeconds { fields.insert("0", at: 0) }
        seconds = try Self.field(fields[0], "second", 0...59)
        minutes = try Self.field(fields[1], "minute", 0...59)
        hours = try Self.field(fields[2], "hour", 0...23)
        daysOfMonth = try Self.field(fields[3], "day-of-month", 1...31)
        months = try Self.field(fields[4], "month", 1...12, names: Self.monthNames, firstName: 1)
        var weekdays = try Self.field(fields[5], "day-of-week", 0...7, names: Self.weekdayNames, firstName: 0)
        if weekdays & (1 << 7) != 0 { weekdays = (weekdays | 1) & ~(1 << 7) }  // 7 is Sunday too
        daysOfWeek = weekdays
        dayOfMonthStar = fields[3].hasPrefix("*")
        dayOfWeekStar = fields[5].hasPrefix("*")
    }

    // MARK: - Fields

    private static func field(
        _ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String] = [], firstName: Int = 0
    ) throws(CronError) -> UInt64 {
        var mask: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !item.isEmpty else { throw CronError(field: name, "'\(text)' has an empty list element") }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= 2 else { throw CronError(field: name, "'\(item)' has more than one '/'") }
            var step = 1
            if parts.count == 2 {
                guard let s = Int(parts[1]), s >= 1 else {
                    throw CronError(field: name, "step '\(parts[1])' in '\(item)' must be a whole number >= 1")
                }
                step = s
            }
            let low: Int, high: Int
            if parts[0] == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else if let dash = parts[0].firstIndex(of: "-") {
                low = try value(String(parts[0][..<dash]), name, range, names, firstName, item)
                high = try value(String(parts[0][parts[0].index(after: dash)...]), name, range, names, firstName, item)
                guard low <= high else { throw CronError(field: name, "range '\(parts[0])' runs backwards (\(low) > \(high))") }
            } else {
                low = try value(parts[0], name, range, names, firstName, item)
                high = parts.count == 2 ? range.upperBound : low  // `N/S`: from N to the maximum
            }
            for v in stride(from: low, through: high, by: step) { mask |= 1 << UInt64(v) }
        }
        return mask
    }

    private static func value(
        _ text: String, _ name: String, _ range: ClosedRange<Int>, _ names: [String], _ firstName: Int, _ item: String
    ) throws(CronError) -> Int {
        if let index = names.firstIndex(of: text.uppercased()) { return index + firstName }
        guard !text.isEmpty else { throw CronError(field: name, "'\(item)' is missing a value") }
        guard let v = Int(text), text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            if "LW#?".contains(where: { text.contains($0) }) {
                throw CronError(field: name, "'\(text)': L, W, # and ? are not supported (standard cron fields only)")
            }
            let known = names.isEmpty ? "" : " or a name (\(names.first!)-\(names.last!))"
            throw CronError(field: name, "'\(text)' is not a number\(known)")
        }
        guard range.contains(v) else {
            throw CronError(field: name, "\(v) is out of range \(range.lowerBound)-\(range.upperBound)")
        }
        return v
    }
}

/// Why a cron expression was refused: the field (`minute`, … or nil for the whole expression)
/// and a sentence a user can act on.
public struct CronError: Error, Equatable, CustomStringConvertible {
    public var field: String?
    public var message: String

    init(field: String?, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { field.map { "\($0) field: \(message)" } ?? message }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
