import ArgumentParser
import Foundation
import JobsdAPI

/// Reads the per-measure JSON files run.sh collected, prints the table (measure, value,
/// reference, ratio, target, met?) and writes it as JSON and as a Markdown table. Exits 3 when
/// a measure could not run (its file is missing, unreadable or holds an `error`); a missed target
/// is not an error.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the results table and write latest.json / latest.md.")
    @Option(help: "Folder with one <measure>.json per measure") var dir: String
    @Option(help: "Path of the JSON report to write") var out: String
    @Flag(help: "The run used --quick (shorter, smaller measures)") var quick = false

    func run() throws {
        let results = Results(dir: dir)
        let rows = Self.rows(results)
        let table = rows.map(\.cells)
        print(Self.text(table))
        let markdown = Self.markdown(table)
        try markdown.write(toFile: (out as NSString).deletingPathExtension + ".md", atomically: true, encoding: .utf8)
        let report = JSONValue.object([
            ("date", .string(Timestamp.now().description)),
            ("quick", .bool(quick)),
            ("machine", Self.machine(results)),
            ("rows", .array(rows.map(\.json))),
            ("raw", .object(results.all())),
        ])
        try (report.canonicalText + "\n").write(toFile: out, atomically: true, encoding: .utf8)
        let failed = rows.filter { $0.error != nil }
        if !failed.isEmpty {
            FileHandle.standardError.write(Data("jobsd-loadgen report: \(failed.count) measure(s) could not run\n".utf8))
            throw ExitCode(3)
        }
    }

    // MARK: - Machine

    private static func machine(_ results: Results) -> JSONValue {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
        func load(_ path: String) -> JSONValue {
            .string((try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
        }
        return .object([
            ("nproc", .number(Double(sysconf(Int32(_SC_NPROCESSORS_ONLN))))),
            ("cpu", .string(cpu)),
            ("kernel", .string(release)),
            ("loadavg_start", load(results.dir + "/loadavg_start")),
            ("loadavg_end", load("/proc/loadavg")),
        ])
    }

    // MARK: - Formatting

    static let header = ["measure", "value", "reference", "ratio", "target", "met?"]

    private static func text(_ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        return all.map { row in
            row.indices.map { c in c == 0 ? row[c].padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - row[c].count) + row[c] }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    private static func markdown(_ rows: [[String]]) -> String {
        ([header, header.map { _ in "---" }] + rows).map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n") + "\n"
    }
}

/// The per-measure JSON files of one run.
struct Results {
    let dir: String

    /// The measure's object; throws when it is missing, unreadable or reports an error. A measure
    /// repeated as `<name>_1.json`, `<name>_2.json`, … yields the median of each number
    /// (the maximum of failure counts).
    func object(_ name: String) throws(LoadError) -> JSONValue {
        if FileManager.default.fileExists(atPath: "\(dir)/\(name).json") { return try single(name) }
        var repeats: [JSONValue] = []
        while FileManager.default.fileExists(atPath: "\(dir)/\(name)_\(repeats.count + 1).json") {
            repeats.append(try single("\(name)_\(repeats.count + 1)"))
        }
        guard case let .object(first)? = repeats.first else { throw LoadError(name, "did not run") }
        return .object(first.map { key, value in
            guard case .number = value else { return (key, value) }
            let numbers = repeats.compactMap { r -> Double? in if case let .number(n)? = r[key] { n } else { nil } }.sorted()
            // Failure counts take the worst repeat, so a median cannot hide a drop or an error.
            let worst = ["errors", "listen_", "non_2xx", "other_status", "failed", "not_cancelled"].contains { key.hasPrefix($0) }
            return (key, .number(worst ? numbers[numbers.count - 1] : numbers[numbers.count / 2]))
        } + [("repeats", .number(Double(repeats.count)))])
    }

    private func single(_ name: String) throws(LoadError) -> JSONValue {
        guard let data = FileManager.default.contents(atPath: "\(dir)/\(name).json") else { throw LoadError(name, "did not run") }
        let value: JSONValue
        do { value = try JSONValue.parse(Array(data)) } catch { throw LoadError(name, "unreadable result: \(error)") }
        if let message = value["error"]?.text { throw LoadError(name, message) }
        return value
    }

    func number(_ name: String, _ key: String) throws(LoadError) -> Double {
        guard case let .number(n)? = try object(name)[key] else { throw LoadError(name, "no number \(key)") }
        return n
    }

    /// Every readable result, for the `raw` section of the report.
    func all() -> [(String, JSONValue)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { file in
            guard let data = FileManager.default.contents(atPath: "\(dir)/\(file)"), let value = try? JSONValue.parse(Array(data)) else { return nil }
            return (String(file.dropLast(5)), value)
        }
    }
}
