import Foundation

/// When a cron expression fires, in a time zone.
///
/// The expression matches wall-clock (civil) times in the zone. Around daylight-saving changes:
/// - a wall-clock time skipped by a spring-forward transition (02:30 in Europe/Berlin on the last
///   Sunday of March) fires once, at the first instant after the gap (03:00 local), as Vixie cron
///   runs jobs whose time was skipped; all the matching times in one gap give that one run, and a
///   match at the gap's end (03:00) is the same run;
/// - a wall-clock time that occurs twice in a fall-back transition fires once, at its first
///   occurrence (so `*/5 * * * *` does not fire during the repeated hour's second pass).
extension CronExpression {
    /// The first firing time strictly after `after` (Unix milliseconds, whole seconds returned),
    /// or nil when the expression matches no date within ten years (e.g. `0 0 30 2 *`).
    public func next(after: Int64, in zone: TimeZone) -> Int64? {
        let t = CivilTime.floorDiv(after, 1000)
        var local = t + Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t))))
        // Bounded: a fall-back hour skips at most 3600 per-second candidates.
        for _ in 0..<10_000 {
            guard let candidate = nextCivil(after: local) else { return nil }
            let instant = Self.resolve(candidate, in: zone)
            if instant > t { return instant * 1000 }
            local = candidate
        }
        return nil
    }

    /// The first civil time (local seconds) strictly after `local` that matches, within ten years.
    func nextCivil(after local: Int64) -> Int64? {
        var c = CivilTime(localSeconds: local + 1)
        let lastYear = c.year + 10
        while c.year <= lastYear {
            guard let month = Self.next(months, from: c.month) else {
                c.startOfMonth(13)
                continue
            }
            if month != c.month { c.startOfMonth(month) }
            guard matchesDay(c) else {
                c.startOfNextDay()
                continue
            }
            guard let hour = Self.next(hours, from: c.hour) else {
                c.startOfNextDay()
                continue
            }
            if hour != c.hour { (c.hour, c.minute, c.second) = (hour, 0, 0) }
            guard let minute = Self.next(minutes, from: c.minute) else {
                c.startOfNextHour()
                continue
            }
            if minute != c.minute { (c.minute, c.second) = (minute, 0) }
            guard let second = Self.next(seconds, from: c.second) else {
                c.startOfNextMinute()
                continue
            }
            c.second = second
            return c.localSeconds
        }
        return nil
    }

    /// Vixie cron's rule: both day fields restricted → either matches; else both must.
    func matchesDay(_ c: CivilTime) -> Bool {
        let dom = daysOfMonth & (1 << UInt64(c.day)) != 0
        let dow = daysOfWeek & (1 << UInt64(c.weekday)) != 0
        return dayOfMonthStar || dayOfWeekStar ? dom && dow : dom || dow
    }

    /// The smallest set bit of `mask` at or above `from`.
    private static func next(_ mask: UInt64, from: Int) -> Int? {
        guard from < 64 else { return nil }
        let above = mask >> UInt64(from)
        return above == 0 ? nil : from + above.trailingZeroBitCount
    }

    /// The instant (Unix seconds) of the civil time `local` in `zone`: its first occurrence when
    /// it occurs twice (fall-back), the end of the gap when it does not occur (spring-forward).
    static func resolve(_ local: Int64, in zone: TimeZone) -> Int64 {
        func offset(_ instant: Int64) -> Int64 { Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant)))) }
        let before = offset(local - 86_400), after = offset(local + 86_400)
        let valid = Set([before, after]).map { local - $0 }.filter { local - offset($0) == $0 }
        if let first = valid.min() { return first }
        // In a gap: the transition lies between the instants the two offsets give; find it.
        var (low, high) = (min(local - before, local - after), max(local - before, local - after))
        while low < high {
            let mid = low + (high - low) / 2
            if offset(mid) == after { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
