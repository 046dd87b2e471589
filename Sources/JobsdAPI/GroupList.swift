/// A page of `GET /v1/groups`: newest first; `nextCursor` is nil on the last page.
public struct GroupList: Decodable, Sendable, Equatable {
    public var groups: [JobGroup]
    public var nextCursor: String?

    public init(groups: [JobGroup], nextCursor: String?) {
        self.groups = groups
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case groups
        case nextCursor = "next_cursor"
    }

    public var json: String {
        var w = JSONWriter()
        w.raw("{\"groups\":[")
        for (i, group) in groups.enumerated() {
            if i > 0 { w.raw(",") }
            group.write(into: &w)
        }
        w.raw("],\"next_cursor\":")
        w.optional(nextCursor) { $0.string($1) }
        w.raw("}")
        return w.text
    }
}
