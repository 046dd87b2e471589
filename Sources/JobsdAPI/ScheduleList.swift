/// `GET /v1/schedules`: every schedule, oldest first.
public struct ScheduleList: Codable, Sendable, Equatable {
    public var schedules: [Schedule]

    public init(schedules: [Schedule]) { self.schedules = schedules }

    public var json: String {
        var w = JSONWriter()
        w.raw("{\"schedules\":")
        w.array(schedules) { s, w in s.write(into: &w) }
        w.raw("}")
        return w.text
    }
}
