import ArgumentParser
import JobsdClient

/// `jobctl group status ID`
struct GroupStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a group: its state and the count of its jobs in each state.")

    @OptionGroup var server: ServerOptions

    @Flag(help: "Print the group as JSON.")
    var json = false

    @Argument(help: "The group id.")
    var id: String

    func run() async throws {
        let group = try await server.call { client throws(ClientError) in try await client.group(id) }
        json ? Output.json(group) : Output.line(GroupDisplay.sheet(group))
    }
}
