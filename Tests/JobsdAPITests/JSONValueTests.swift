import JobsdAPI
import Testing

@Suite struct JSONValueTests {
    @Test func parse_DistinguishesBooleansFromNumbers() throws {
        let v = try JSONValue.parse(#"{"a": true, "b": 1, "c": null, "d": "x\n\u00e9"}"#)
        #expect(v["a"] == .bool(true))
        #expect(v["b"] == .number(1))
        #expect(v["c"] == .null)
        #expect(v["d"] == .string("x\né"))
        #expect(v["missing"] == nil)
    }

    @Test(arguments: [
        "", "{", "{\"a\":1,\"a\":2}", "[1,]", "01", "\"\\x\"", "{\"a\" 1}", "1 2", "tru", "\"\u{01}\"", "1e999",
        "\"\\ud800\"",
    ])
    func parse_RejectsMalformedInput(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func parse_RejectsDeepNestingWithoutCrashing() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
    }

    @Test func canonicalText_IsTheSameForReorderedObjects() throws {
        let a = try JSONValue.parse(#"{"b": [1, 2.5], "a": {"y": 1, "x": 2}}"#)
        let b = try JSONValue.parse(#"{"a": {"x": 2, "y": 1}, "b": [1, 2.5]}"#)
        #expect(a == b)
        #expect(a.canonicalText == b.canonicalText)
        #expect(a.canonicalText == #"{"a":{"x":2,"y":1},"b":[1,2.5]}"#)
    }
}

@Suite struct TimestampTests {
    @Test func description_IsRFC3339WithMilliseconds() {
        #expect(Timestamp(milliseconds: 1_795_571_534_123).description == "2026-11-25T01:52:14.123Z")
        #expect(Timestamp(milliseconds: 0).description == "1970-01-01T00:00:00.000Z")
    }

    @Test func parse_RoundTripsAndAcceptsOffsets() {
        #expect(Timestamp(rfc3339: "2026-11-25T01:52:14.123Z")?.milliseconds == 1_795_571_534_123)
        #expect(Timestamp(rfc3339: "2026-11-25T02:52:14.123+01:00")?.milliseconds == 1_795_571_534_123)
        #expect(Timestamp(rfc3339: "2026-11-25 01:52:14Z") == nil)
    }
}

@Suite struct JobWireTests {
    @Test func json_HasEveryFieldWithNullsAndDecodesBack() throws {
        let job = Job(
            id: "01JDQ6W6X7Z8K9M0N1P2Q3R4S5", labels: ["team": "data"], command: ["sh", "-c", "echo \"hi\""],
            state: .queued, createdAt: Timestamp(milliseconds: 1_795_571_534_123), timeoutSeconds: 3600, graceSeconds: 10,
            cleanup: CleanupStatus(state: .none))
        let text = job.json
        for key in ["name", "started_at", "finished_at", "cancel_requested_at", "pid", "exit_code", "signal", "error"] {
            #expect(text.contains("\"\(key)\":null"), "\(key) missing")
        }
        let parsed = try JSONValue.parse(text)
        #expect(parsed["created_at"] == .string("2026-11-25T01:52:14.123Z"))
        #expect(parsed["cleanup"]?["state"] == .string("none"))
    }
}

