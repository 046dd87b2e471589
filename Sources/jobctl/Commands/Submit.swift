import ArgumentParser
import Foundation
import JobsdAPI
import JobsdClient

/// `jobctl submit [options] -- CMD ARGS…`
struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a job and print its id.",
        usage: "jobctl submit [<options>] -- <command> [<args>…]",
        discussion: "With --wait or --follow, exits with the job's outcome (see `jobctl --help`)."
    )

    @OptionGroup var server: ServerOptions

    @Option(help: ArgumentHelp("Deadline from the job's start (default: the server's).", valueName: "duration"))
    var timeout: DurationArgument?

    @Option(help: ArgumentHelp("SIGTERM → SIGKILL delay (default: the server's).", valueName: "duration"))
    var grace: DurationArgument?

    @Option(name: .customLong("env"), help: ArgumentHelp("Environment variable for the job (repeatable).", valueName: "KEY=VALUE"))
    var env: [KeyValueArgument] = []

    @Option(name: .customLong("label"), help: ArgumentHelp("Label (repeatable).", valueName: "key=value"))
    var labels: [KeyValueArgument] = []

    @Option(help: "Free-text name.")
    var name: String?

    @Option(help: ArgumentHelp("Cleanup command, run with `sh -c` after the job's processes are gone.", valueName: "shell-command"))
    var cleanup: String?

    @Option(help: ArgumentHelp("Cleanup timeout (default 30s).", valueName: "duration"))
    var cleanupTimeout: DurationArgument?

    @Option(help: ArgumentHelp("Text for the job's stdin; @FILE reads a file, @- reads jobctl's stdin.", valueName: "text|@file"))
    var stdin: String?

    @Option(help: ArgumentHelp("Completion webhook: the job is POSTed to this URL once terminal.", valueName: "url"))
    var notify: String?

    @Option(help: ArgumentHelp("Idempotency-Key: resubmitting the same spec with it returns the same job.", valueName: "key"))
    var idempotencyKey: String?

    @Flag(help: "Wait until the job is terminal and exit with its outcome.")
    var wait = false

    @Flag(help: "Stream the job's output until it is terminal, then exit with its outcome.")
    var follow = false

    @Flag(help: "Print the job as JSON instead of its id.")
    var json = false

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The command and its arguments, after `--`.", valueName: "command"))
    var command: [String] = []

    /// The job's argv: everything from the first positional on, without the `--` separator.
    private var argv: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        guard !argv.isEmpty else { throw ValidationError("missing command: jobctl submit [<options>] -- <command> [<args>…]") }
        if cleanupTimeout != nil, cleanup == nil { throw ValidationError("--cleanup-timeout needs --cleanup") }
    }

    func run() async throws {
        let spec = JobSpec(
            command: argv, env: env.dictionary, stdin: try stdinText(), timeoutSeconds: timeout?.seconds,
            graceSeconds: grace?.seconds, cleanup: cleanup.map { CleanupSpec(command: ["sh", "-c", $0], timeoutSeconds: cleanupTimeout?.seconds) },
            name: name, labels: labels.dictionary, notify: notify.map(NotifySpec.init(url:)))
        let job = try await server.call { client throws(ClientError) in try await client.submit(spec, idempotencyKey: idempotencyKey) }

        if follow {
            Output.error("jobctl: submitted \(job.id)")
            try await Logs.stream(job.id, stream: nil, server: server)
        } else if !wait || !json {
            json ? Output.json(job) : Output.line(job.id)
        }
        guard wait || follow else { return }
        let final = try await server.call { client throws(ClientError) in try await client.waitForChange(job.id, timeout: .infinity) }
        if json, wait { Output.json(final) }
        throw ExitCode(final.waitExitStatus)
    }

    private func stdinText() throws -> String? {
        guard let stdin, stdin.hasPrefix("@") else { return stdin }
        let path = String(stdin.dropFirst())
        let data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: path)
        guard let data else { throw JobctlFailure(message: "cannot read \(path)", status: 2) }
        guard let text = String(data: data, encoding: .utf8) else { throw JobctlFailure(message: "\(path) is not UTF-8 text", status: 2) }
        return text
    }
}
