/// One entry of a job's termination timeline (`GET /v1/jobs/{id}/events`, CONTRACT.md "The
/// termination timeline"): `seq` (1, 2, 3, … per job), `at`, `type`, and the type's extra fields
/// beside them on the same JSON object (`{"seq":3,"at":"…","type":"signal_sent","signal":"SIGTERM",…}`).
public struct JobEvent: Sendable, Equatable {
    public var seq: Int
    public var at: Timestamp
    public var type: Kind
    /// The type's extra fields (`pid`, `signal`, `exit_code`, …), in the order they are written.
    public var fields: [Field]

    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: JSONValue
        public init(_ name: String, _ value: JSONValue) {
            self.name = name
            self.value = value
        }
    }

    /// An event type; the contract's names as constants, open for more.
    public struct Kind: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let submitted = Kind(rawValue: "submitted")
        public static let scheduled = Kind(rawValue: "scheduled")
        public static let started = Kind(rawValue: "started")
        public static let spawnFailed = Kind(rawValue: "spawn_failed")
        public static let cancelRequested = Kind(rawValue: "cancel_requested")
        public static let deadlineReached = Kind(rawValue: "deadline_reached")
        public static let signalSent = Kind(rawValue: "signal_sent")
        public static let exited = Kind(rawValue: "exited")
        public static let leftoversKilled = Kind(rawValue: "leftovers_killed")
        /// The kernel's OOM killer killed `count` processes of the job (`limit_bytes`: its memory limit).
        public static let oomKilled = Kind(rawValue: "oom_killed")
        public static let cleanupStarted = Kind(rawValue: "cleanup_started")
        public static let cleanupFinished = Kind(rawValue: "cleanup_finished")
        public static let interrupted = Kind(rawValue: "interrupted")
        public static let retryScheduled = Kind(rawValue: "retry_scheduled")
        public static let finished = Kind(rawValue: "finished")
        public static let notifyAttemptFailed = Kind(rawValue: "notify_attempt_failed")
        public static let notifyDelivered = Kind(rawValue: "notify_delivered")
        public static let notifyFailed = Kind(rawValue: "notify_failed")
        /// The job's log could not store its output (disk full, I/O error) and drops it: `error`.
        public static let logDropped = Kind(rawValue: "log_dropped")
        /// The log stores output again; `bytes` were dropped since `log_dropped`.
        public static let logResumed = Kind(rawValue: "log_resumed")
    }

    /// `seq` 0 means "not numbered yet": the engine or the store numbers it when it is appended.
    public init(_ type: Kind, at: Timestamp = .now(), seq: Int = 0, _ fields: [Field] = []) {
        self.seq = seq
        self.at = at
        self.type = type
        self.fields = fields
    }

    /// The extra field `name`, nil when absent.
    public subscript(name: String) -> JSONValue? { fields.first { $0.name == name }?.value }

    /// The extra fields as one JSON object text (`{}` when none): how stores keep them.
    public var fieldsJSON: String {
        var w = JSONWriter()
        JSONValue.object(fields.map { ($0.name, $0.value) }).write(canonical: false, into: &w)
        return w.text
    }

    /// The wire JSON.
    public var json: String {
        var w = JSONWriter()
        write(into: &w)
        return w.text
    }

    public func write(into w: inout JSONWriter) {
        w.raw("{\"seq\":"); w.raw(String(seq))
        w.raw(",\"at\":"); w.string(at.description)
        w.raw(",\"type\":"); w.string(type.rawValue)
        for field in fields {
            w.raw(","); w.string(field.name); w.raw(":")
            field.value.write(canonical: false, into: &w)
        }
        w.raw("}")
    }

    /// Reads one event from its wire JSON object (or a store's columns: `fieldsJSON` parsed).
    public init(json value: JSONValue) throws(JSONParseError) {
        guard case let .object(members) = value, case let .number(seq)? = value["seq"], case let .string(at)? = value["at"],
              let timestamp = Timestamp(rfc3339: at), case let .string(type)? = value["type"]
        else { throw JSONParseError(message: "not a job event", offset: 0) }
        self.init(Kind(rawValue: type), at: timestamp, seq: Int(seq),
                  members.filter { !["seq", "at", "type"].contains($0.0) }.map { Field($0.0, $0.1) })
    }

    /// Reads the extra fields a store kept as `fieldsJSON`.
    public static func fields(fromJSON text: String) -> [Field] {
        guard case let .object(members)? = try? JSONValue.parse(text) else { return [] }
        return members.map { Field($0.0, $0.1) }
    }
}
