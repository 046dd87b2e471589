import ArgumentParser
import JobsdAPI

/// `jobctl group status ID`
struct GroupStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a group: its state and the count of its jobs in each state.")

    @OptionGroup var group: ShowArguments<JobGroup>

    func run() async throws { try await group.show() }
}
