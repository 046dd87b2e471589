import ArgumentParser
import JobsdClient

/// `jobctl status ID`
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a job.")

    @OptionGroup var server: ServerOptions

    @Flag(help: "Print the job as JSON.")
    var json = false

    @Argument(help: "The job id.")
    var id: String

    func run() async throws {
        let job = try await server.call { client throws(ClientError) in try await client.job(id) }
        json ? Output.json(job) : Output.line(JobDisplay.sheet(job))
    }
}
