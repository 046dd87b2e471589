import ArgumentParser
import Foundation
import JobsdAPI
import JobsdClient

/// `jobctl submit [options] -- CMD ARGS…`
struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a job and print its id.",
        usage: "jobctl submit [<options>] -- <command> [<args>…]\n       jobctl submit --template <name> [--param <key=value> …] [--name …] [--label …] [--key … --limit … --at|--delay … --retry … --backoff … --priority …] [--memory … --cpu … --pids … --open-files … --cpu-seconds …]",
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

    @Option(help: ArgumentHelp("Concurrency key: at most --limit jobs with it run at once; the others wait in order.", valueName: "key"))
    var key: String?

    @Option(help: ArgumentHelp("How many jobs with --key may run at once (default 1).", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Start at this time (RFC 3339, e.g. 2026-12-24T18:00:00Z), not before.", valueName: "time"))
    var at: TimestampArgument?

    @Option(help: ArgumentHelp("Start this long after submission.", valueName: "duration"))
    var delay: DurationArgument?

    @Option(help: ArgumentHelp("Run up to n attempts in all (1–20): a failed or timed-out attempt is retried.", valueName: "n"))
    var retry: Int?

    @Option(help: ArgumentHelp("Pause before the first retry, doubling for each next one (default 1s, capped at 1h).", valueName: "duration"))
    var backoff: DurationArgument?

    @Option(help: ArgumentHelp("Memory limit of the whole job: bytes or 512M, 2G.", valueName: "size"))
    var memory: ByteSizeArgument?

    @Option(help: ArgumentHelp("CPU limit of the whole job in cores, e.g. 0.5.", valueName: "cores"))
    var cpu: Double?

    @Option(help: ArgumentHelp("Most processes of the whole job at once.", valueName: "n"))
    var pids: Int64?

    @Option(help: ArgumentHelp("Open files per process.", valueName: "n"))
    var openFiles: Int64?

    @Option(help: ArgumentHelp("CPU time per process (SIGXCPU past it).", valueName: "duration"))
    var cpuSeconds: DurationArgument?

    @Option(help: ArgumentHelp("Run the job as this user (one of the server's --allow-users).", valueName: "name"))
    var user: String?

    @Option(help: ArgumentHelp("Priority from -100 to 100 (default 0): higher starts first; negative as --priority=-5.", valueName: "n"))
    var priority: Int?

    @Option(help: ArgumentHelp("Run the server's command template of this name (GET /v1/templates) instead of a command.", valueName: "name"))
    var template: String?

    @Option(name: .customLong("param"), help: ArgumentHelp("A template parameter (repeatable); converted to the parameter's type.", valueName: "key=value"))
    var params: [KeyValueArgument] = []

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
        // Passthrough capture starts at the first word it does not know: a mistyped option before
        // `--` would otherwise become the job's command.
        // `--help` lands there too (the passthrough capture takes it before the parser does).
        if let first = command.first, first == "--help" || first == "-h" { throw CleanExit.helpRequest(self) }
        if let first = command.first, first != "--", first.hasPrefix("-") {
            throw ValidationError("unknown option '\(first)' (the command goes after --)")
        }
        if limit != nil, key == nil { throw ValidationError("--limit needs --key") }
        if at != nil, delay != nil { throw ValidationError("--at and --delay exclude each other") }
        if backoff != nil, retry == nil { throw ValidationError("--backoff needs --retry") }
        if template != nil {
            guard argv.isEmpty else { throw ValidationError("--template runs the server's command: give no command after --") }
            if let fixed = templateFixedOptions.first {
                throw ValidationError("\(fixed) cannot be used with --template: the template fixes it")
            }
            return
        }
        guard params.isEmpty else { throw ValidationError("--param needs --template") }
        guard !argv.isEmpty else { throw ValidationError("missing command: jobctl submit [<options>] -- <command> [<args>…]") }
        if cleanupTimeout != nil, cleanup == nil { throw ValidationError("--cleanup-timeout needs --cleanup") }
    }

    /// The options given that set a job field a template request may not carry (the template
    /// fixes it: README, "Command templates"), in the order of `--help`. The limits options may
    /// be given: the server takes them when they only lower the template's limits.
    private var templateFixedOptions: [String] {
        let given: [(String, Bool)] = [
            ("--timeout", timeout != nil), ("--grace", grace != nil), ("--env", !env.isEmpty), ("--cleanup", cleanup != nil),
            ("--cleanup-timeout", cleanupTimeout != nil), ("--stdin", stdin != nil), ("--notify", notify != nil), ("--user", user != nil),
        ]
        return given.filter(\.1).map(\.0)
    }

    func run() async throws {
        let job: Job
        if let template {
            let request = TemplateRequest(
                template: template, params: try await typedParams(template), name: name, labels: labels.dictionary, priority: priority,
                concurrencyKey: key, concurrencyLimit: limit, runAt: at?.timestamp, delaySeconds: delay?.seconds, retry: retryPolicy,
                limits: limits)
            job = try await server.call { client throws(ClientError) in try await client.submit(request, idempotencyKey: idempotencyKey) }
        } else {
            let spec = JobSpec(
                command: argv, env: env.dictionary, stdin: try stdinText(), timeoutSeconds: timeout?.seconds,
                graceSeconds: grace?.seconds, cleanup: cleanup.map { CleanupSpec(command: ["sh", "-c", $0], timeoutSeconds: cleanupTimeout?.seconds) },
                name: name, labels: labels.dictionary, notify: notify.map(NotifySpec.init(url:)), limits: limits, user: user,
                concurrencyKey: key, concurrencyLimit: limit, runAt: at?.timestamp, delaySeconds: delay?.seconds,
                retry: retryPolicy, priority: priority)
            job = try await server.call { client throws(ClientError) in try await client.submit(spec, idempotencyKey: idempotencyKey) }
        }

        if follow {
            Output.error("jobctl: submitted \(job.id)")
            try await Logs.stream(job.id, stream: nil, server: server)
        } else if !wait || !json {
            json ? Output.json(job) : Output.line(job.id)
        }
        guard wait || follow else { return }
        let final = try await server.call { client throws(ClientError) in try await client.wait(job.id, timeout: .infinity) }
        if json, wait { Output.json(final) }
        throw ExitCode(final.waitExitStatus)
    }

    /// `--param` values as the template's parameter types want them (from `GET /v1/templates`):
    /// numbers and booleans parsed, the rest strings. A parameter the template does not have is
    /// sent as a string, for the server to refuse by name.
    private func typedParams(_ template: String) async throws -> [String: JSONValue] {
        let list = try await server.call { client throws(ClientError) in try await client.templates() }
        var types: [String: String] = [:]
        if case let .array(templates)? = list["templates"],
           case let .object(params)? = templates.first(where: { $0["name"] == .string(template) })?["params"] {
            for (key, rule) in params { if case let .string(type)? = rule["type"] { types[key] = type } }
        }
        var values: [String: JSONValue] = [:]
        for param in params {
            switch types[param.key] {
            case "integer", "number":
                guard let n = Double(param.value) else { throw ValidationError("--param \(param.key) must be a number, got '\(param.value)'") }
                values[param.key] = .number(n)
            case "boolean":
                guard let b = Bool(param.value) else { throw ValidationError("--param \(param.key) must be true or false, got '\(param.value)'") }
                values[param.key] = .bool(b)
            default:
                values[param.key] = .string(param.value)
            }
        }
        return values
    }

    /// `--retry` with `--backoff` (default 1 s); nil without `--retry`.
    private var retryPolicy: RetryPolicy? {
        retry.map { RetryPolicy(maxAttempts: $0, backoffSeconds: backoff?.seconds ?? RetryPolicy.defaultBackoffSeconds) }
    }

    /// The limits given on the command line; nil when none (the server's defaults apply).
    private var limits: JobLimits? {
        let limits = JobLimits(
            memoryBytes: memory?.bytes, cpu: cpu, pids: pids, openFiles: openFiles, cpuSeconds: cpuSeconds.map { Int64($0.seconds.rounded(.up)) })
        return limits.isEmpty ? nil : limits
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
