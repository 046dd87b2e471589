import ArgumentParser

/// `jobctl group submit|status|wait|cancel`: job groups (`/v1/groups`).
struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "Submit and follow job groups: jobs created together, the first failure cancelling the others (fail_fast).",
        subcommands: [GroupSubmit.self, GroupStatus.self, GroupWait.self, GroupCancel.self]
    )
}
