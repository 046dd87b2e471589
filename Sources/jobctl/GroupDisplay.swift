import JobsdAPI

/// Human-readable renderings of groups: the `group status` sheet and one-line outcomes.
enum GroupDisplay {
    /// One field per line; the counts of the states its jobs are in (those with any).
    static func sheet(_ group: JobGroup, now: Timestamp = .now()) -> String {
        var fields: [(String, String)] = [("ID", group.id)]
        if let name = group.name { fields.append(("Name", name)) }
        fields.append(("State", group.state.rawValue))
        fields.append(("Fail fast", group.failFast ? "yes" : "no"))
        if !group.labels.isEmpty { fields.append(("Labels", group.labels.keys.sorted().map { "\($0)=\(group.labels[$0]!)" }.joined(separator: ", "))) }
        fields.append(("Created", "\(group.createdAt) (\(DurationText.format(seconds: group.createdAt.seconds(until: now))) ago)"))
        if let finished = group.finishedAt { fields.append(("Finished", finished.description)) }
        fields.append(("Jobs", "\(group.jobs.count): " + counts(group)))
        let width = fields.map(\.0.count).max() ?? 0
        return fields.map { $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n")
    }

    /// `01J… failed (succeeded 3, failed 1, cancelled 6)`.
    static func outcome(_ group: JobGroup) -> String { "\(group.id) \(group.state.rawValue) (\(counts(group)))" }

    private static func counts(_ group: JobGroup) -> String {
        let present = JobState.allCases.compactMap { state in group.counts[state].flatMap { $0 > 0 ? "\(state.rawValue) \($0)" : nil } }
        return present.isEmpty ? "none" : present.joined(separator: ", ")
    }
}
