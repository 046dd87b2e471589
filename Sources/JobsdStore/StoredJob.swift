import JobsdAPI

/// One stored row of a job, whatever the database: the columns of `StoredJob.columns`, 0-based,
/// as text, numbers or bytes (nil for SQL NULL).
protocol StoredJobRow {
    func string(_ column: Int32) -> String?
    /// The column's text as UTF-8 bytes (empty for NULL).
    func bytes(_ column: Int32) -> [UInt8]
    func int64(_ column: Int32) -> Int64?
    func double(_ column: Int32) -> Double?
}

extension SQLiteStatement: StoredJobRow {}

/// How a `JobRecord` is laid out in a `jobs` row, shared by the SQLite and PostgreSQL stores: the
/// column order, the JSON columns (labels, command, spec) and the decoding of a row back into a
/// record. Times are Unix milliseconds.
enum StoredJob {
    /// Every column in bind (1-based) and read (0-based) order.
    static let columns = """
        id, state, name, labels, command, created_at, started_at, finished_at, timeout_seconds, \
        grace_seconds, cancel_requested_at, pid, exit_code, signal, error, cleanup_state, cleanup_exit_code, \
        cleanup_error, log_bytes, spec, idempotency_key, request_fingerprint, process_start_ticks, owner, \
        group_id, orchestration, log_dropped_bytes
        """

    /// `columns` one name an element.
    static let columnNames = columns.split(separator: ",").map { $0.filter { !$0.isWhitespace } }

    /// `col = <placeholder(n)>` for every column but the id (n is the column's 1-based bind
    /// position), comma-separated: the SET list of a whole-row update whose id is parameter 1.
    static func updateAssignments(_ placeholder: (Int) -> String) -> String {
        columnNames.enumerated().dropFirst().map { "\($0.element) = \(placeholder($0.offset + 1))" }
            .joined(separator: ", ")
    }

    static let terminalStates = JobState.allCases.filter(\.isTerminal).map { "'\($0.rawValue)'" }.joined(separator: ", ")
    static let unfinishedStates = JobState.allCases.filter { !$0.isTerminal }.map { "'\($0.rawValue)'" }
        .joined(separator: ", ")

    /// `jobs.labels`: keys sorted, so equal maps give equal text.
    static func labelsJSON(_ labels: [String: String]) -> String {
        var writer = JSONWriter()
        writer.stringMap(labels)
        return writer.text
    }

    /// `jobs.command`: a JSON array of strings.
    static func commandJSON(_ command: [String]) -> String {
        var writer = JSONWriter()
        writer.stringArray(command)
        return writer.text
    }

    /// `jobs.spec`: when the spec's command, timeouts, name and labels are the job's (as the engine
    /// makes them), only the facts no other column holds: env, stdin, cleanup, notify, limits and user, `{}` when none.
    /// Otherwise the whole spec (`JobSpec.json`, which has a "command"), so any record round-trips.
    static func specJSON(_ record: JobRecord) -> String {
        let (spec, job) = (record.spec, record.job)
        guard spec.command == job.command, spec.timeoutSeconds == job.timeoutSeconds,
              spec.graceSeconds == job.graceSeconds, spec.name == job.name, spec.labels == job.labels,
              spec.hasNoOrchestration
        else { return spec.json }
        return spec.runtimeJSON
    }

    /// The record in the current row of a statement that selected `columns`. Throws `unavailable`
    /// naming the job and the column when the stored row cannot be decoded.
    static func record(from row: some StoredJobRow) throws(JobStoreError) -> JobRecord {
        let id = row.string(0) ?? ""
        func corrupt(_ column: String) -> JobStoreError {
            .unavailable("stored job \(id) is corrupt: cannot decode column \(column)")
        }
        func json(_ column: Int32, _ name: String) throws(JobStoreError) -> JSONValue {
            do { return try JSONValue.parse(row.bytes(column)) } catch { throw corrupt(name) }
        }
        func time(_ column: Int32) -> Timestamp? { row.int64(column).map(Timestamp.init(milliseconds:)) }
        func int32(_ column: Int32) -> Int32? { row.int64(column).map { Int32(truncatingIfNeeded: $0) } }

        guard let state = row.string(1).flatMap(JobState.init(rawValue:)) else { throw corrupt("state") }
        guard let labels = try json(3, "labels").stringMap else { throw corrupt("labels") }
        guard let command = try json(4, "command").stringArray else { throw corrupt("command") }
        guard let createdAt = time(5) else { throw corrupt("created_at") }
        guard let cleanupState = row.string(15).flatMap(CleanupState.init(rawValue:)) else {
            throw corrupt("cleanup_state")
        }
        var job = Job(
            id: id, name: row.string(2), labels: labels, command: command, state: state, createdAt: createdAt,
            startedAt: time(6), finishedAt: time(7), timeoutSeconds: row.double(8) ?? 0, graceSeconds: row.double(9) ?? 0,
            cancelRequestedAt: time(10), pid: int32(11), exitCode: int32(12), signal: row.string(13), error: row.string(14),
            cleanup: CleanupStatus(state: cleanupState, exitCode: int32(16), error: row.string(17)),
            logBytes: row.int64(18) ?? 0, logDroppedBytes: row.int64(26) ?? 0, groupID: row.string(24)
        )
        guard StoredOrchestration.apply(row.string(25), to: &job) else { throw corrupt("orchestration") }
        guard let spec = JobSpec(stored: try json(19, "spec"), of: job) else { throw corrupt("spec") }
        job.limits = spec.limits
        job.user = spec.user
        return JobRecord(
            job: job, spec: spec, idempotencyKey: row.string(20), requestFingerprint: row.string(21),
            processStartTicks: row.int64(22).map { UInt64(bitPattern: $0) }, owner: row.string(23)
        )
    }
}

// MARK: - JSON decoding of stored values

extension JSONValue {
    fileprivate var stringValue: String? {
        if case let .string(s) = self { s } else { nil }
    }

    fileprivate var stringArray: [String]? {
        guard case let .array(items) = self else { return nil }
        let strings = items.compactMap(\.stringValue)
        return strings.count == items.count ? strings : nil
    }

    var stringMap: [String: String]? {
        guard case let .object(members) = self else { return nil }
        var map: [String: String] = [:]
        for (key, value) in members {
            guard let s = value.stringValue else { return nil }
            map[key] = s
        }
        return map
    }

    fileprivate var numberValue: Double? {
        if case let .number(n) = self { n } else { nil }
    }
}

extension JobSpec {
    /// Decodes `jobs.spec` as `SQLiteEncodedJob.specJSON` wrote it: the whole spec when it has a
    /// "command" (also every row written before schema 3), else only env, stdin, cleanup, limits and user, with
    /// the rest from `job`'s columns. nil when it does not have that shape.
    fileprivate init?(stored json: JSONValue, of job: Job) {
        /// `.some(nil)` when the key is absent, nil when it holds the wrong kind of value.
        func optional<T>(_ key: String, _ read: (JSONValue) -> T?) -> T?? {
            guard let value = json[key] else { return .some(nil) }
            guard let decoded = read(value) else { return nil }
            return .some(decoded)
        }
        guard let env = optional("env", \.stringMap), let stdin = optional("stdin", \.stringValue),
              let cleanup = optional("cleanup", { CleanupSpec(stored: $0) }),
              let notify = optional("notify", { $0["url"]?.stringValue.map(NotifySpec.init(url:)) }),
              let limits = optional("limits", { JobLimits(json: $0) }), let user = optional("user", \.stringValue)
        else { return nil }
        guard let command = json["command"] else {
            self.init(
                command: job.command, env: env ?? [:], stdin: stdin, timeoutSeconds: job.timeoutSeconds,
                graceSeconds: job.graceSeconds, cleanup: cleanup, name: job.name, labels: job.labels, notify: notify, limits: limits, user: user
            )
            return
        }
        guard let command = command.stringArray,
              let timeout = optional("timeout_seconds", \.numberValue), let grace = optional("grace_seconds", \.numberValue),
              let name = optional("name", \.stringValue), let labels = optional("labels", \.stringMap),
              let key = optional("concurrency_key", \.stringValue), let limit = optional("concurrency_limit", \.numberValue),
              let runAt = optional("run_at", { $0.stringValue.flatMap(Timestamp.init(rfc3339:)) }),
              let delay = optional("delay_seconds", \.numberValue), let retry = optional("retry", { RetryPolicy(stored: $0) }),
              let priority = optional("priority", \.numberValue)
        else { return nil }
        self.init(
            command: command, env: env ?? [:], stdin: stdin, timeoutSeconds: timeout, graceSeconds: grace,
            cleanup: cleanup, name: name, labels: labels ?? [:], notify: notify, limits: limits, user: user,
            concurrencyKey: key, concurrencyLimit: limit.map { Int($0) }, runAt: runAt, delaySeconds: delay, retry: retry,
            priority: priority.map { Int($0) }
        )
    }
}

extension CleanupSpec {
    fileprivate init?(stored json: JSONValue) {
        guard let command = json["command"]?.stringArray else { return nil }
        let timeout = json["timeout_seconds"]
        guard timeout == nil || timeout?.numberValue != nil else { return nil }
        self.init(command: command, timeoutSeconds: timeout?.numberValue)
    }
}

extension RetryPolicy {
    fileprivate init?(stored json: JSONValue) {
        guard let attempts = json["max_attempts"]?.numberValue, let backoff = json["backoff_seconds"]?.numberValue,
              let on = json["on"]?.stringArray
        else { return nil }
        let states = on.compactMap(JobState.init(rawValue:))
        guard states.count == on.count else { return nil }
        self.init(maxAttempts: Int(attempts), backoffSeconds: backoff, on: states)
    }
}
