import ArgumentParser
import JobsdClient

/// `jobctl group cancel [--wait] ID`
struct GroupCancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel every job of a group that is not terminal yet (queued ones at once, running ones by the signal ladder, then their cleanup).",
        discussion: "With --wait, waits until the group is terminal and exits with its outcome (see `jobctl group wait --help`)."
    )

    @OptionGroup var server: ServerOptions

    @Flag(help: "Wait until the group is terminal and exit with its outcome.")
    var wait = false

    @Flag(help: "Print the group as JSON.")
    var json = false

    @Argument(help: "The group id.")
    var id: String

    func run() async throws {
        let group = try await server.call { client throws(ClientError) in try await client.cancelGroup(id) }
        guard wait else {
            json ? Output.json(group) : Output.line(GroupDisplay.outcome(group))
            return
        }
        try await GroupWait.finish(id, timeout: nil, json: json, server: server)
    }
}
