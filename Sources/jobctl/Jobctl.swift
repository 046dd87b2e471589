import ArgumentParser
import Foundation

/// The jobctl command line: parses, runs one subcommand, and turns every failure into a one-line
/// message on stderr and an exit status (never a stack trace).
@main
struct Jobctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobctl",
        abstract: "Command-line client of jobsd, the HTTP job runner.",
        discussion: """
            The server is --server (before or after the subcommand) or $JOBSD_URL (default \
            http://127.0.0.1:8080); the bearer \
            token is --token or $JOBSD_TOKEN. Durations are seconds or 500ms, 30s, 5m, 2h, 7d.

            EXIT STATUS
              wait, submit --wait, submit --follow exit with the job's outcome, and
              group wait with the group's (0 succeeded, 130 cancelled, a failed group as its
              first failed job):
                the job's exit code when it has one (0 when it succeeded)
                124  the job timed out
                130  the job was cancelled
                1    any other failure (killed by a signal, could not start, interrupted,
                     or still running when `wait --timeout` gave up)
              Every command:
                0    success
                1    the server answered an error (unknown job, conflict, validation…)
                2    usage error, or the server could not be reached
            """,
        subcommands: [Submit.self, Status.self, Wait.self, Logs.self, Cancel.self, List.self, Events.self, GroupCommand.self, Schedules.self]
    )

    /// `--server` and `--token` are accepted before the subcommand too (`jobctl --server URL
    /// status ID`): ArgumentParser hands options of the root's group to the subcommand's own
    /// `ServerOptions`, which is what every subcommand reads; the last one given wins.
    @OptionGroup var global: ServerOptions

    static func main() async {
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as JobctlFailure {
            Output.error("jobctl: \(failure.message)")
            Foundation.exit(failure.status)
        } catch {
            // ArgumentParser's usage errors exit 64 (EX_USAGE); jobctl documents 2.
            if exitCode(for: error) == .validationFailure {
                Output.error(fullMessage(for: error))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
