import ArgumentParser
import JobsdAPI
import JobsdClient

/// `jobctl list [--state S]… [--label k=v]… [--limit N] [--json]`
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")

    @OptionGroup var server: ServerOptions

    @Option(help: "Only jobs in this state (repeatable: any of them).")
    var state: [JobState] = []

    @Option(name: .customLong("label"), help: ArgumentHelp("Only jobs with this label (repeatable: all of them).", valueName: "key=value"))
    var labels: [KeyValueArgument] = []

    @Option(help: "At most this many jobs (default: all).")
    var limit: Int?

    @Flag(help: "Print a JSON array of jobs.")
    var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let jobs = try await server.call { client throws(ClientError) in
            var jobs: [Job] = []
            for try await job in client.list(states: state, labels: labels.dictionary, limit: limit, pageSize: 1000) { jobs.append(job) }
            return jobs
        }
        if json {
            Output.line("[" + jobs.map(\.json).joined(separator: ",") + "]")
        } else {
            Output.line(JobDisplay.table(jobs))
        }
    }
}
