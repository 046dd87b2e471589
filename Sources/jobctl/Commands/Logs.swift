import ArgumentParser
import JobsdAPI
import JobsdClient

/// `jobctl logs [-f] [--stream stdout|stderr] ID`
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a job's output (raw bytes).")

    @OptionGroup var server: ServerOptions

    @Flag(name: .shortAndLong, help: "Keep printing new output until the job is terminal.")
    var follow = false

    @Option(help: "Only this stream: stdout or stderr.")
    var stream: LogStream?

    @Argument(help: "The job id.")
    var id: String

    func run() async throws {
        if follow { return try await Self.stream(id, stream: stream, server: server) }
        let logs = try await server.call { client throws(ClientError) in try await client.logs(id, stream: stream) }
        Output.raw(logs.bytes)
        if logs.truncated { Output.error("jobctl: the oldest output of \(id) was dropped (log cap reached)") }
    }

    /// Copies the followed output to stdout as it arrives; returns when the job is terminal.
    static func stream(_ id: String, stream: LogStream?, server: ServerOptions) async throws(JobctlFailure) {
        try await server.call { client throws(ClientError) in
            for try await chunk in client.followLogs(id, stream: stream) { Output.raw(chunk) }
        }
    }
}
