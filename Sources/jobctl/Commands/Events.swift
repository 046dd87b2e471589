import ArgumentParser
import JobsdAPI
import JobsdClient

/// `jobctl events [--follow] [--after CURSOR] [--job ID]… [--label k:v]… [--state S]… [--json]`
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print job state changes (GET /v1/events).",
        discussion: """
            One line per change: cursor, event (job.<state>), job id, name. Without --follow, prints \
            the changes still kept (or those after --after) and exits; with --follow, keeps printing \
            new ones until interrupted.
            """
    )

    @OptionGroup var server: ServerOptions

    @Flag(help: "Keep the stream open and print changes as they happen (live only unless --after).")
    var follow = false

    @Option(help: ArgumentHelp("Start after this cursor (the first column of an earlier line).", valueName: "cursor"))
    var after: String?

    @Option(help: "Only this job (repeatable: any of them).")
    var job: [String] = []

    @Option(name: .customLong("label"), help: ArgumentHelp("Only jobs with this label (repeatable: all of them).", valueName: "key:value"))
    var labels: [String] = []

    @Option(help: "Only changes to this state (repeatable: any of them).")
    var state: [JobState] = []

    @Flag(help: "Print each change's job JSON instead.")
    var json = false

    func validate() throws {
        for label in labels where !label.contains(":") { throw ValidationError("--label must be key:value") }
    }

    func run() async throws {
        var filter: [String: String] = [:]
        for label in labels {
            let colon = label.firstIndex(of: ":")!
            filter[String(label[..<colon])] = String(label[label.index(after: colon)...])
        }
        try await server.call { client throws(ClientError) in
            let start = after ?? (follow ? nil : "0")
            for try await change in try await client.changes(after: start, jobs: job, labels: filter, states: state, follow: follow) {
                Output.line(json ? change.job.json : "\(change.id)\t\(change.event)\t\(change.job.id)\t\(change.job.name ?? "")")
            }
        }
    }
}
