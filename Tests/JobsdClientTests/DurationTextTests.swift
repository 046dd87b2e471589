import JobsdClient
import Testing

struct DurationTextTests {
    @Test(arguments: [
        ("30", 30.0), ("1.5", 1.5), ("500ms", 0.5), ("30s", 30), ("5m", 300), ("2h", 7200), ("7d", 604_800), ("0", 0),
    ])
    func seconds_ParsesPlainSecondsAndUnits(text: String, expected: Double) {
        #expect(DurationText.seconds(from: text) == expected)
    }

    @Test(arguments: ["", "s", "-1", "5x", "1e3", "inf", "nan", "5 m", "m5", "1.2.3"])
    func seconds_RejectsMalformedText(text: String) {
        #expect(DurationText.seconds(from: text) == nil)
    }

    @Test(arguments: [(0.25, "250ms"), (42, "42s"), (192, "3m12s"), (3600, "1h"), (18180, "5h3m"), (187_200, "2d4h")])
    func format_WritesShortHumanDurations(seconds: Double, expected: String) {
        #expect(DurationText.format(seconds: seconds) == expected)
    }
}
