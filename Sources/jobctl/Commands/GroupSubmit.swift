import ArgumentParser
import Foundation
import JobsdAPI
import JobsdClient

/// `jobctl group submit FILE.json`
struct GroupSubmit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a group from a JSON file (the POST /v1/groups body) and print its id.",
        discussion: """
            FILE holds {"name": …, "labels": {…}, "fail_fast": true, "jobs": [<job spec>, …]} \
            (1–1000 job specs, as for POST /v1/jobs); `-` reads it from stdin. Nothing is \
            created unless every spec is valid. With --wait, exits with the group's outcome \
            (see `jobctl group wait --help`).
            """
    )

    @OptionGroup var server: ServerOptions

    @Flag(help: "Wait until the group is terminal and exit with its outcome.")
    var wait = false

    @Flag(help: "Print the group as JSON instead of its id.")
    var json = false

    @Argument(help: ArgumentHelp("The group's JSON, or - for stdin.", valueName: "file"), completion: .file(extensions: ["json"]))
    var file: String

    func run() async throws {
        let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file)
        guard let data else { throw JobctlFailure(message: "cannot read \(file)", status: 2) }
        let spec: GroupSpec
        do { spec = try JSONDecoder().decode(GroupSpec.self, from: data) } catch {
            throw JobctlFailure(message: "\(file) is not a group: \(Self.describe(error))", status: 2)
        }
        let group = try await server.call { client throws(ClientError) in try await client.submitGroup(spec) }
        if !wait || !json { json ? Output.json(group) : Output.line(group.id) }
        guard wait else { return }
        try await GroupWait.finish(group.id, timeout: nil, json: json, server: server)
    }

    /// A decoding error in a sentence (the field path and what was wrong).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case let .keyNotFound(key, context): return "missing \(path(context.codingPath + [key]))"
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
            return context.codingPath.isEmpty ? context.debugDescription : "bad \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
}
