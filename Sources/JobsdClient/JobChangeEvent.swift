import Foundation
import JobsdAPI

/// One event of `GET /v1/events`: the job as it was when it reached `state`. Pass `id` back
/// (`JobsdClient.changes(after:)`) to resume after it.
public struct JobChangeEvent: Sendable, Equatable {
    /// The cursor (opaque: pass it back, never compare it).
    public var id: String
    /// `job.<state>`.
    public var event: String
    public var job: Job

    /// Parses one event block (its lines, without the blank line that ends it); nil for a block
    /// that carries no event (a `: keep-alive` comment).
    init?(block: Substring) throws(ClientError) {
        var id: String?, event: String?, data: String?
        for line in block.split(separator: "\n") where !line.hasPrefix(":") {
            let (name, value) = line.firstIndex(of: ":").map { (line[..<$0], line[line.index(after: $0)...]) } ?? (line, "")
            let text = String(value.hasPrefix(" ") ? value.dropFirst() : value)
            switch name {
            case "id": id = text
            case "event": event = text
            case "data": data = (data.map { $0 + "\n" } ?? "") + text
            default: break
            }
        }
        guard let data else { return nil }
        do {
            job = try JSONDecoder().decode(Job.self, from: Data(data.utf8))
        } catch {
            throw .decoding("event data is not a job: \(error)")
        }
        self.id = id ?? ""
        self.event = event ?? "message"
    }
}
