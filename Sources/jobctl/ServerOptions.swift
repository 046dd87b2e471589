import ArgumentParser
import Foundation
import JobsdClient

/// Where the server is and how to authenticate; shared by every subcommand.
struct ServerOptions: ParsableArguments {
    static let defaultURL = "http://127.0.0.1:8080"

    @Option(help: ArgumentHelp("jobsd base URL (default: $JOBSD_URL, else \(Self.defaultURL)).", valueName: "url"))
    var server: String?

    @Option(help: ArgumentHelp("Bearer token (default: $JOBSD_TOKEN).", valueName: "token"))
    var token: String?

    var url: String { server ?? Self.environment("JOBSD_URL") ?? Self.defaultURL }

    /// Runs `body` with a client for the chosen server; client errors become `JobctlFailure`s.
    func call<T>(_ body: (JobsdClient) async throws(ClientError) -> T) async throws(JobctlFailure) -> T {
        let url = url
        let client = JobsdClient(baseURL: url, token: token ?? Self.environment("JOBSD_TOKEN"))
        do {
            return try await body(client)
        } catch {
            throw JobctlFailure(error, server: url)
        }
    }

    private static func environment(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}
