/// A wall-clock date and time with no time zone (proleptic Gregorian calendar), to the second:
/// what a cron expression matches. Converted to and from "local seconds", the seconds since
/// 1970-01-01T00:00:00 of the same calendar, by Howard Hinnant's `days_from_civil` algorithms
/// (exact for every year, no table, no Foundation calendar).
struct CivilTime: Sendable, Equatable, CustomStringConvertible {
    var year: Int
    /// 1…12.
    var month: Int
    /// 1…31.
    var day: Int
    var hour: Int
    var minute: Int
    var second: Int

    init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second) = (year, month, day, hour, minute, second)
    }

    /// The civil time `localSeconds` seconds after 1970-01-01T00:00:00.
    init(localSeconds: Int64) {
        let days = Self.floorDiv(localSeconds, 86_400)
        let secondOfDay = Int(localSeconds - days * 86_400)
        (year, month, day) = Self.civil(fromDays: days)
        hour = secondOfDay / 3600
        minute = secondOfDay / 60 % 60
        second = secondOfDay % 60
    }

    var localSeconds: Int64 {
        Self.days(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// 0 = Sunday … 6 = Saturday.
    var weekday: Int {
        Int(Self.floorMod(Self.days(year: year, month: month, day: day) + 4, 7))  // 1970-01-01 was a Thursday
    }

    var description: String {
        func pad(_ v: Int, _ n: Int = 2) -> String { String(repeating: "0", count: max(0, n - String(v).count)) + String(v) }
        return "\(pad(year, 4))-\(pad(month))-\(pad(day))T\(pad(hour)):\(pad(minute)):\(pad(second))"
    }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // MARK: - Moving forward (each resets the smaller fields)

    mutating func startOfNextMinute() {
        second = 0
        minute += 1
        if minute == 60 { startOfNextHour() }
    }

    mutating func startOfNextHour() {
        (minute, second) = (0, 0)
        hour += 1
        if hour == 24 { startOfNextDay() }
    }

    mutating func startOfNextDay() {
        (hour, minute, second) = (0, 0, 0)
        day += 1
        if day > Self.daysIn(year: year, month: month) { startOfMonth(month + 1) }
    }

    /// The first second of `month` (13: January of the next year).
    mutating func startOfMonth(_ month: Int) {
        (day, hour, minute, second) = (1, 0, 0, 0)
        if month > 12 {
            year += 1
            self.month = 1
        } else {
            self.month = month
        }
    }

    // MARK: - days_from_civil / civil_from_days

    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = floorDiv(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = Int64((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1)
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0), month, day)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
    static func floorMod(_ a: Int64, _ b: Int64) -> Int64 { a - floorDiv(a, b) * b }
}
