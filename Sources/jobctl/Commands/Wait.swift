import JobsdAPI
import ArgumentParser
import JobsdClient

/// `jobctl wait ID [--timeout D]`
struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until a job is terminal; exit with its outcome.",
        discussion: "Listens to the job's changes on GET /v1/events (long-polls when the stream ends early). Exit status: the job's exit code when it has one, 124 timed out, 130 cancelled, 1 other failures or --timeout passed, 2 usage or connection errors."
    )

    @OptionGroup var server: ServerOptions

    @Option(help: ArgumentHelp("Give up after this long (default: wait as long as the job runs).", valueName: "duration"))
    var timeout: DurationArgument?

    @Flag(help: "Print the job as JSON.")
    var json = false

    @Argument(help: "The job id.")
    var id: String

    func run() async throws {
        let job = try await server.call { client throws(ClientError) in try await client.waitForChange(id, timeout: timeout?.seconds ?? .infinity) }
        json ? Output.json(job) : Output.line(JobDisplay.outcome(job))
        if !job.state.isTerminal {
            throw JobctlFailure(message: "job \(id) is still \(job.state.rawValue) after \(DurationText.format(seconds: timeout?.seconds ?? 0))", status: 1)
        }
        throw ExitCode(job.waitExitStatus)
    }
}
