/// The body of `GET /v1/jobs/{id}/events`.
public struct JobTimeline: Sendable, Equatable {
    public var events: [JobEvent]

    public init(events: [JobEvent]) { self.events = events }

    public var json: String {
        var w = JSONWriter()
        w.raw("{\"events\":")
        w.array(events) { event, w in event.write(into: &w) }
        w.raw("}")
        return w.text
    }

    public init(json bytes: [UInt8]) throws(JSONParseError) {
        guard case let .array(items)? = try JSONValue.parse(bytes)["events"] else {
            throw JSONParseError(message: "no \"events\" array", offset: 0)
        }
        var events: [JobEvent] = []
        for item in items { events.append(try JobEvent(json: item)) }
        self.events = events
    }
}
