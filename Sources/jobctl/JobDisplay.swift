import JobsdAPI
import JobsdClient

/// Human-readable renderings of jobs: the `list` table, the `status` sheet, one-line outcomes.
enum JobDisplay {
    /// Columns ID, STATE, EXIT, AGE, DURATION, NAME, COMMAND, padded to their widest cell.
    static func table(_ jobs: [Job], now: Timestamp = .now()) -> String {
        let header = ["ID", "STATE", "EXIT", "AGE", "DURATION", "NAME", "COMMAND"]
        let rows = jobs.map { job in
            [job.id, job.state.rawValue, exit(job), DurationText.format(seconds: job.createdAt.seconds(until: now)),
             duration(job, now: now), job.name ?? "-", clipped(command(job.command), to: 60)]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { cells in
            cells.enumerated().map { column, cell in
                column == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// One field per line, the fields that are set.
    static func sheet(_ job: Job, now: Timestamp = .now()) -> String {
        var fields: [(String, String)] = [("ID", job.id)]
        if let name = job.name { fields.append(("Name", name)) }
        fields.append(("State", job.state.rawValue))
        fields.append(("Command", command(job.command)))
        if !job.labels.isEmpty { fields.append(("Labels", job.labels.keys.sorted().map { "\($0)=\(job.labels[$0]!)" }.joined(separator: ", "))) }
        fields.append(("Created", "\(job.createdAt) (\(DurationText.format(seconds: job.createdAt.seconds(until: now))) ago)"))
        if let started = job.startedAt { fields.append(("Started", started.description)) }
        if let finished = job.finishedAt { fields.append(("Finished", finished.description)) }
        if job.startedAt != nil { fields.append(("Duration", duration(job, now: now))) }
        if let cancelled = job.cancelRequestedAt { fields.append(("Cancel requested", cancelled.description)) }
        if let pid = job.pid { fields.append(("PID", String(pid))) }
        if let code = job.exitCode { fields.append(("Exit code", String(code))) }
        if let signal = job.signal { fields.append(("Signal", signal)) }
        if let error = job.error { fields.append(("Error", error)) }
        fields.append(("Timeout", DurationText.format(seconds: job.timeoutSeconds)))
        fields.append(("Grace", DurationText.format(seconds: job.graceSeconds)))
        var cleanup = job.cleanup.state.rawValue
        if let code = job.cleanup.exitCode { cleanup += " (exit \(code))" }
        if let error = job.cleanup.error { cleanup += ": \(error)" }
        fields.append(("Cleanup", cleanup))
        fields.append(("Log bytes", String(job.logBytes)))
        if job.logDroppedBytes > 0 { fields.append(("Log dropped", "\(job.logDroppedBytes) bytes could not be stored")) }
        let width = fields.map(\.0.count).max() ?? 0
        return fields.map { $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n")
    }

    /// `01J… failed (exit 3)`: the id, the state and what ended it.
    static func outcome(_ job: Job) -> String {
        var text = "\(job.id) \(job.state.rawValue)"
        if let code = job.exitCode { text += " (exit \(code))" } else if let signal = job.signal { text += " (\(signal))" }
        if let error = job.error { text += ": \(error)" }
        return text
    }

    // MARK: - Cells

    private static func exit(_ job: Job) -> String {
        if let code = job.exitCode { return String(code) }
        return job.signal ?? "-"
    }

    private static func duration(_ job: Job, now: Timestamp) -> String {
        guard let started = job.startedAt else { return "-" }
        return DurationText.format(seconds: started.seconds(until: job.finishedAt ?? now))
    }

    /// argv as a shell would need it typed: arguments with spaces or quotes in single quotes.
    static func command(_ argv: [String]) -> String {
        argv.map { arg in
            let plain = !arg.isEmpty && arg.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0) }
            return plain ? arg : "'" + arg.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
        }.joined(separator: " ")
    }

    private static func clipped(_ text: String, to width: Int) -> String {
        text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }
}
