import ArgumentParser
import Foundation
import JobsdAPI
import JobsdClient

/// `jobctl group wait ID [--timeout D]`
struct GroupWait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until a group is terminal; exit with its outcome.",
        discussion: """
            Exit status, as for `jobctl wait`: 0 succeeded, 130 cancelled (a DELETE of the \
            group), a failed group exits as its first failed job (its exit code, 124 when it timed \
            out, else 1); 1 when --timeout passed first; 2 usage or connection errors.
            """
    )

    @OptionGroup var server: ServerOptions

    @Option(help: ArgumentHelp("Give up after this long (default: wait as long as the group runs).", valueName: "duration"))
    var timeout: DurationArgument?

    @Flag(help: "Print the group as JSON.")
    var json = false

    @Argument(help: "The group id.")
    var id: String

    func run() async throws {
        try await Self.finish(id, timeout: timeout?.seconds, json: json, server: server)
    }

    /// Waits for the group (nil timeout: as long as it runs), prints it, and throws its exit status.
    static func finish(_ id: String, timeout: Double?, json: Bool, server: ServerOptions) async throws {
        let group = try await server.call { client throws(ClientError) in try await client.waitGroup(id, timeout: timeout ?? .infinity) }
        json ? Output.json(group) : Output.line(GroupDisplay.outcome(group))
        guard group.state.isTerminal else {
            throw JobctlFailure(message: "group \(id) is still running after \(DurationText.format(seconds: timeout ?? 0))", status: 1)
        }
        switch group.state {
        case .succeeded: throw ExitCode(0)
        case .cancelled: throw ExitCode(130)
        case .failed, .running:
            // The failed job that ended first decided it (with fail_fast it cancelled the others).
            let jobs = try await server.call { client throws(ClientError) in try await client.listPage(limit: 1000, group: id).jobs }
            let failed = jobs.filter { $0.state == .failed || $0.state == .timedOut }.min { ($0.finishedAt ?? .now()) < ($1.finishedAt ?? .now()) }
            throw ExitCode(failed?.waitExitStatus ?? 1)
        }
    }
}
