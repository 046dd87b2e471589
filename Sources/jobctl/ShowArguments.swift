import ArgumentParser
import JobsdAPI
import JobsdClient

/// What `jobctl status` (`ShowArguments<Job>`) and `jobctl group status` (`ShowArguments<JobGroup>`)
/// take and do: read one job or group by id and print its sheet, or its wire JSON with `--json`.
struct ShowArguments<Subject: Shown>: ParsableArguments {
    @OptionGroup var server: ServerOptions

    @Flag(help: ArgumentHelp("Print the \(Subject.noun) as JSON."))
    var json = false

    @Argument(help: ArgumentHelp("The \(Subject.noun) id."))
    var id: String

    func show() async throws {
        let subject = try await server.call { client throws(ClientError) in try await Subject.read(id, from: client) }
        json ? Output.json(subject) : Output.line(subject.sheet)
    }
}

/// A job or a group, as `ShowArguments` reads and prints it.
protocol Shown: JSONWritable, Sendable {
    /// `job`, `group`: for the help texts.
    static var noun: String { get }
    /// `GET` of the one with this id.
    static func read(_ id: String, from client: JobsdClient) async throws(ClientError) -> Self
    /// The human-readable sheet.
    var sheet: String { get }
}

extension Job: Shown {
    static var noun: String { "job" }
    static func read(_ id: String, from client: JobsdClient) async throws(ClientError) -> Job { try await client.job(id) }
    var sheet: String { JobDisplay.sheet(self) }
}

extension JobGroup: Shown {
    static var noun: String { "group" }
    static func read(_ id: String, from client: JobsdClient) async throws(ClientError) -> JobGroup { try await client.group(id) }
    var sheet: String { GroupDisplay.sheet(self) }
}
