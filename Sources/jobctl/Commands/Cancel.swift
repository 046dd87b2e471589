import ArgumentParser
import JobsdClient

/// `jobctl cancel [--wait] [--grace S] ID`
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel a job: SIGTERM its processes, SIGKILL after the grace period, then run its cleanup.",
        discussion: "A job that already finished is an error (409, exit 1)."
    )

    @OptionGroup var server: ServerOptions

    @Flag(help: "Wait until the job is terminal (cancelled, or the outcome that came first).")
    var wait = false

    @Option(help: ArgumentHelp("SIGTERM → SIGKILL delay for this cancel.", valueName: "duration"))
    var grace: DurationArgument?

    @Flag(help: "Print the job as JSON.")
    var json = false

    @Argument(help: "The job id.")
    var id: String

    func run() async throws {
        let job = try await server.call { client throws(ClientError) in
            try await client.cancel(id, grace: grace?.seconds, wait: wait ? .infinity : nil)
        }
        json ? Output.json(job) : Output.line(JobDisplay.outcome(job))
    }
}
