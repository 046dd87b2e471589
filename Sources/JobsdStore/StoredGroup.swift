import JobsdAPI

/// How a `GroupRecord` is laid out in a `job_groups` row, shared by the SQLite and PostgreSQL
/// stores: labels, job ids and counts as JSON text, `fail_fast` as 0/1, times in Unix
/// milliseconds.
enum StoredGroup {
    static let columns = "id, name, labels, fail_fast, state, created_at, finished_at, cancel_requested_at, failed_by, jobs, counts"

    /// `job_groups.jobs`: the ids as a JSON array.
    static func jobsJSON(_ group: JobGroup) -> String {
        var w = JSONWriter()
        w.stringArray(group.jobs)
        return w.text
    }

    /// `job_groups.counts`: state → count, counts as strings.
    static func countsJSON(_ group: JobGroup) -> String {
        var w = JSONWriter()
        w.stringMap(Dictionary(uniqueKeysWithValues: group.counts.map { ($0.key.rawValue, String($0.value)) }))
        return w.text
    }

    /// The record in the current row of a statement that selected `columns`.
    static func record(from row: some StoredJobRow) throws(JobStoreError) -> GroupRecord {
        let id = row.string(0) ?? ""
        func corrupt(_ column: String) -> JobStoreError { .unavailable("stored group \(id) is corrupt: cannot decode column \(column)") }
        func json(_ column: Int32, _ name: String) throws(JobStoreError) -> JSONValue {
            do { return try JSONValue.parse(row.bytes(column)) } catch { throw corrupt(name) }
        }
        guard case let .object(labelMembers) = try json(2, "labels") else { throw corrupt("labels") }
        var labels: [String: String] = [:]
        for (k, v) in labelMembers {
            guard case let .string(s) = v else { throw corrupt("labels") }
            labels[k] = s
        }
        guard let state = row.string(4).flatMap(GroupState.init(rawValue:)) else { throw corrupt("state") }
        guard let created = row.int64(5) else { throw corrupt("created_at") }
        guard case let .array(items) = try json(9, "jobs") else { throw corrupt("jobs") }
        let jobs = items.compactMap { if case let .string(s) = $0 { s } else { nil } }
        guard jobs.count == items.count else { throw corrupt("jobs") }
        guard case let .object(countMembers) = try json(10, "counts") else { throw corrupt("counts") }
        var counts: [JobState: Int] = [:]
        for (k, v) in countMembers {
            guard let s = JobState(rawValue: k), case let .string(n) = v, let count = Int(n) else { throw corrupt("counts") }
            counts[s] = count
        }
        let group = JobGroup(
            id: id, name: row.string(1), labels: labels, state: state, failFast: row.int64(3) == 1, counts: counts, jobs: jobs,
            createdAt: Timestamp(milliseconds: created), finishedAt: row.int64(6).map(Timestamp.init(milliseconds:)))
        return GroupRecord(
            group: group, cancelRequestedAt: row.int64(7).map(Timestamp.init(milliseconds:)), failedBy: row.string(8))
    }
}
