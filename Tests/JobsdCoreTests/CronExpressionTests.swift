import Foundation
import JobsdAPI
@testable import JobsdCore
import Testing

/// The cron parser (`CronExpression`) and its next-fire computation, including month ends, leap
/// years and daylight-saving transitions in real zones.
@Suite struct CronExpressionTests {
    private let utc = TimeZone(identifier: "UTC")!
    private let berlin = TimeZone(identifier: "Europe/Berlin")!
    private let newYork = TimeZone(identifier: "America/New_York")!

    private func ms(_ text: String) -> Int64 { Timestamp(rfc3339: text)!.milliseconds }
    private func text(_ ms: Int64?) -> String? { ms.map { Timestamp(milliseconds: $0).description } }

    /// The first `count` firing times after `start`, as RFC 3339 UTC.
    private func fires(_ cron: String, after start: String, in zone: TimeZone? = nil, count: Int = 1) throws -> [String] {
        let expression = try CronExpression(parsing: cron)
        var t = ms(start), out: [String] = []
        for _ in 0..<count {
            guard let next = expression.next(after: t, in: zone ?? utc) else { break }
            out.append(text(next)!)
            t = next
        }
        return out
    }

    private func refusal(_ cron: String) -> CronError? {
        do { _ = try CronExpression(parsing: cron); return nil } catch { return error }
    }

    // MARK: - Parsing

    @Test func stars_MatchEveryMinute() throws {
        #expect(try fires("* * * * *", after: "2026-01-01T00:00:30.000Z", count: 3)
            == ["2026-01-01T00:01:00.000Z", "2026-01-01T00:02:00.000Z", "2026-01-01T00:03:00.000Z"])
    }

    @Test func listsRangesAndSteps_CombineInOneField() throws {
        let e = try CronExpression(parsing: "1,5-7,10-20/5,*/30 * * * *")
        let minutes = (0..<60).filter { e.minutes & (1 << UInt64($0)) != 0 }
        #expect(minutes == [0, 1, 5, 6, 7, 10, 15, 20, 30])
    }

    @Test func aValueWithAStep_RunsToTheFieldsMaximum() throws {
        let e = try CronExpression(parsing: "0 5/6 * * *")
        #expect((0..<24).filter { e.hours & (1 << UInt64($0)) != 0 } == [5, 11, 17, 23])
    }

    @Test func monthAndWeekdayNames_AreAcceptedInAnyCase() throws {
        let named = try CronExpression(parsing: "0 0 * jan-Mar,DEC mon-fri")
        let numbered = try CronExpression(parsing: "0 0 * 1-3,12 1-5")
        #expect(named.months == numbered.months && named.daysOfWeek == numbered.daysOfWeek)
    }

    @Test func zeroAndSeven_AreBothSunday() throws {
        let zero = try CronExpression(parsing: "0 0 * * 0"), seven = try CronExpression(parsing: "0 0 * * 7")
        #expect(zero.daysOfWeek == seven.daysOfWeek && zero.daysOfWeek == 1)
        #expect(try CronExpression(parsing: "0 0 * * 5-7").daysOfWeek == 0b110_0001)
        // 2026-01-04 is a Sunday.
        #expect(try fires("0 0 * * 7", after: "2026-01-01T00:00:00Z") == ["2026-01-04T00:00:00.000Z"])
    }

    @Test func macros_StandForTheirExpressions() throws {
        #expect(try fires("@hourly", after: "2026-01-01T10:20:00Z") == ["2026-01-01T11:00:00.000Z"])
        #expect(try fires("@daily", after: "2026-01-01T10:20:00Z") == ["2026-01-02T00:00:00.000Z"])
        #expect(try fires("@weekly", after: "2026-01-01T10:20:00Z") == ["2026-01-04T00:00:00.000Z"])
        #expect(try fires("@monthly", after: "2026-01-01T10:20:00Z") == ["2026-02-01T00:00:00.000Z"])
        #expect(try fires("@yearly", after: "2026-01-01T10:20:00Z") == ["2027-01-01T00:00:00.000Z"])
        #expect(refusal("@fortnightly")?.message.contains("unknown macro") == true)
    }

    @Test func aLeadingSecondsField_IsOptional() throws {
        #expect(try fires("*/20 * * * * *", after: "2026-01-01T00:00:05.500Z", count: 3)
            == ["2026-01-01T00:00:20.000Z", "2026-01-01T00:00:40.000Z", "2026-01-01T00:01:00.000Z"])
        #expect(try CronExpression(parsing: "* * * * * *").hasSeconds)
        #expect(try !CronExpression(parsing: "* * * * *").hasSeconds)
    }

    @Test func invalidExpressions_AreRefused_NamingTheFieldAndTheProblem() {
        let cases: [(String, String?, String)] = [
            ("", nil, "got 0"),
            ("* * * *", nil, "expected 5 fields"),
            ("* * * * * * *", nil, "got 7"),
            ("60 * * * *", "minute", "60 is out of range 0-59"),
            ("* 24 * * *", "hour", "24 is out of range 0-23"),
            ("* * 0 * *", "day-of-month", "0 is out of range 1-31"),
            ("* * 32 * *", "day-of-month", "out of range"),
            ("* * * 13 *", "month", "13 is out of range 1-12"),
            ("* * * 0 *", "month", "out of range"),
            ("* * * * 8", "day-of-week", "8 is out of range 0-7"),
            ("60 * * * * *", "second", "out of range 0-59"),
            ("1,,2 * * * *", "minute", "empty list element"),
            (",1 * * * *", "minute", "empty list element"),
            ("*/0 * * * *", "minute", "step '0'"),
            ("*/x * * * *", "minute", "step 'x'"),
            ("1/2/3 * * * *", "minute", "more than one '/'"),
            ("5-3 * * * *", "minute", "runs backwards"),
            ("-3 * * * *", "minute", "missing a value"),
            ("a * * * *", "minute", "'a' is not a number"),
            ("* * * foo *", "month", "or a name (JAN-DEC)"),
            ("* * * * MON-FOO", "day-of-week", "'FOO' is not a number or a name (SUN-SAT)"),
            ("* * L * *", "day-of-month", "not supported"),
            ("* * * * 5#2", "day-of-week", "not supported"),
            ("* * ? * *", "day-of-month", "not supported"),
            ("+5 * * * *", "minute", "not a number"),
        ]
        for (cron, field, message) in cases {
            let error = refusal(cron)
            #expect(error != nil, "\(cron) was accepted")
            #expect(error?.field == field, "\(cron): \(String(describing: error))")
            #expect(error?.message.contains(message) == true, "\(cron): \(String(describing: error))")
        }
    }

    // MARK: - Day rules

    @Test func bothDayFieldsRestricted_MatchWhenEitherMatches() throws {
        // The 13th, or any Friday: 2026-02-06 (Fri), 2026-02-13 (the 13th, also a Friday), 2026-02-20 (Fri).
        #expect(try fires("0 0 13 * 5", after: "2026-02-01T00:00:00Z", count: 4) == [
            "2026-02-06T00:00:00.000Z", "2026-02-13T00:00:00.000Z", "2026-02-20T00:00:00.000Z", "2026-02-27T00:00:00.000Z",
        ])
        #expect(try fires("0 0 1 * MON", after: "2026-03-29T00:00:00Z", count: 2)
            == ["2026-03-30T00:00:00.000Z", "2026-04-01T00:00:00.000Z"])
    }

    @Test func aStarredDayField_MeansBothMustMatch() throws {
        // `*/2` starts with `*`: odd days of the month that are also Mondays (Vixie cron's DOM_STAR).
        #expect(try fires("0 0 */2 * 1", after: "2026-01-01T00:00:00Z", count: 2)
            == ["2026-01-05T00:00:00.000Z", "2026-01-19T00:00:00.000Z"])
        #expect(try fires("0 0 13 * *", after: "2026-01-14T00:00:00Z") == ["2026-02-13T00:00:00.000Z"])
    }

    // MARK: - Calendar

    @Test func theThirtyFirst_SkipsShortMonths() throws {
        #expect(try fires("0 12 31 * *", after: "2026-01-31T12:00:00Z", count: 3)
            == ["2026-03-31T12:00:00.000Z", "2026-05-31T12:00:00.000Z", "2026-07-31T12:00:00.000Z"])
    }

    @Test func monthAndYearEnds_RollOver() throws {
        #expect(try fires("59 23 * * *", after: "2026-12-31T23:59:00Z", count: 1) == ["2027-01-01T23:59:00.000Z"])
        #expect(try fires("0 0 * * *", after: "2026-02-28T00:00:00Z", count: 2) == ["2026-03-01T00:00:00.000Z", "2026-03-02T00:00:00.000Z"])
        #expect(try fires("0 0 * * *", after: "2028-02-28T00:00:00Z", count: 2) == ["2028-02-29T00:00:00.000Z", "2028-03-01T00:00:00.000Z"])
    }

    @Test func leapDay_FiresOnlyInLeapYears_IncludingTheCenturyRule() throws {
        #expect(try fires("0 0 29 2 *", after: "2026-01-01T00:00:00Z", count: 3)
            == ["2028-02-29T00:00:00.000Z", "2032-02-29T00:00:00.000Z", "2036-02-29T00:00:00.000Z"])
        // 2100 is not a leap year: from 2096 the next is 2104.
        #expect(try fires("0 0 29 2 *", after: "2096-03-01T00:00:00Z") == ["2104-02-29T00:00:00.000Z"])
        #expect(try fires("0 0 29 2 *", after: "1999-03-01T00:00:00Z") == ["2000-02-29T00:00:00.000Z"])
    }

    @Test func anImpossibleDate_NeverFires() throws {
        #expect(try CronExpression(parsing: "0 0 30 2 *").next(after: ms("2026-01-01T00:00:00Z"), in: utc) == nil)
        #expect(try CronExpression(parsing: "0 0 31 4,6,9,11 *").next(after: ms("2026-01-01T00:00:00Z"), in: utc) == nil)
        // With a weekday restricted too, the OR rule makes it fire on February's Mondays.
        #expect(try fires("0 0 30 2 1", after: "2026-01-01T00:00:00Z") == ["2026-02-02T00:00:00.000Z"])
    }

    @Test func civilTime_RoundTripsAcrossCenturies() {
        for days: Int64 in stride(from: -800_000, through: 800_000, by: 997) {
            let c = CivilTime(localSeconds: days * 86_400 + 3723)
            #expect(c.localSeconds == days * 86_400 + 3723)
            #expect((1...CivilTime.daysIn(year: c.year, month: c.month)).contains(c.day))
        }
        #expect(CivilTime(year: 2000, month: 3, day: 1).weekday == 3)
        #expect(CivilTime(year: 1969, month: 12, day: 31).weekday == 3)
    }

    // MARK: - Time zones and daylight saving

    @Test func aZone_ShiftsTheFiringInstant() throws {
        // 09:00 in Berlin is 08:00Z in winter and 07:00Z in summer.
        #expect(try fires("0 9 * * *", after: "2026-01-10T00:00:00Z", in: berlin) == ["2026-01-10T08:00:00.000Z"])
        #expect(try fires("0 9 * * *", after: "2026-07-10T00:00:00Z", in: berlin) == ["2026-07-10T07:00:00.000Z"])
        #expect(try fires("0 9 * * *", after: "2026-07-10T00:00:00Z", in: newYork) == ["2026-07-10T13:00:00.000Z"])
    }

    @Test func aTimeSkippedBySpringForward_RunsOnceAtTheEndOfTheGap() throws {
        // Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00Z; 02:30 does not exist that day.
        #expect(try fires("30 2 * * *", after: "2026-03-28T12:00:00Z", in: berlin, count: 3) == [
            "2026-03-29T01:00:00.000Z",  // 03:00 CEST, right after the gap
            "2026-03-30T00:30:00.000Z",  // 02:30 CEST the next day
            "2026-03-31T00:30:00.000Z",
        ])
        // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00Z.
        #expect(try fires("15 2 * * *", after: "2026-03-07T12:00:00Z", in: newYork, count: 2)
            == ["2026-03-08T07:00:00.000Z", "2026-03-09T06:15:00.000Z"])
    }

    @Test func everyFiveMinutes_AcrossSpringForward_HasOneRunForTheWholeGap() throws {
        // 01:55 CET (00:55Z), then the gap's end 03:00 CEST (01:00Z) once, then 03:05 CEST.
        #expect(try fires("*/5 * * * *", after: "2026-03-29T00:50:00Z", in: berlin, count: 3)
            == ["2026-03-29T00:55:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-29T01:05:00.000Z"])
    }

    @Test func aTimeRepeatedByFallBack_RunsOnce_AtItsFirstOccurrence() throws {
        // Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00Z; 02:30 happens twice.
        #expect(try fires("30 2 * * *", after: "2026-10-24T12:00:00Z", in: berlin, count: 2)
            == ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"])
        // Asked from within the second pass, the repeated time is not run again.
        #expect(try fires("30 2 * * *", after: "2026-10-25T01:10:00Z", in: berlin) == ["2026-10-26T01:30:00.000Z"])
        // New York, 2026-11-01: 02:00 EDT becomes 01:00 EST at 06:00Z; 01:30 happens twice.
        #expect(try fires("30 1 * * *", after: "2026-10-31T12:00:00Z", in: newYork, count: 2)
            == ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"])
    }

    @Test func hourlyAcrossFallBack_SkipsTheRepeatedHoursSecondPass() throws {
        // 01:00 CEST (23:00Z), 02:00 CEST (00:00Z), [02:00 CET skipped], 03:00 CET (02:00Z).
        #expect(try fires("0 * * * *", after: "2026-10-24T22:30:00Z", in: berlin, count: 3)
            == ["2026-10-24T23:00:00.000Z", "2026-10-25T00:00:00.000Z", "2026-10-25T02:00:00.000Z"])
    }

    @Test func everySecond_ThroughTheRepeatedHour_IsBoundedAndFinishes() throws {
        // From inside the second pass of 02:xx, the next run is 03:00:00 CET.
        #expect(try fires("* * * * * *", after: "2026-10-25T01:00:01Z", in: berlin) == ["2026-10-25T02:00:00.000Z"])
    }
}
