import JobsdAPI
import JobsdCore
import JobsdStore

/// `GET /v1/jobs`' `cursor` (`next_cursor`): the place of the previous page's last job in list
/// order, as `<created_at in Unix ms>.<id>`. Opaque to clients.
extension JobListPosition {
    /// The cursor text.
    var cursor: String { "\(createdAt.milliseconds).\(id)" }

    /// Reads a cursor this server wrote; nil for anything else.
    init?(cursor: String) {
        let parts = cursor.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].utf8.count <= 15, parts[0].utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let milliseconds = Int64(parts[0]), JobIDGenerator.isWellFormed(String(parts[1]))
        else { return nil }
        self.init(createdAt: Timestamp(milliseconds: milliseconds), id: String(parts[1]))
    }
}
