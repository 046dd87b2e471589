import JobsdAPI

/// `jobs.orchestration` (both stores): a job's start time, the schedule that submitted it, its concurrency key, retry policy,
/// priority (when not 0), attempt number and finished attempts as one JSON object (wire field names, times in Unix milliseconds), NULL
/// for a job that uses none of them — most jobs, which so pay nothing for the feature. The group
/// id has a column of its own.
/// Written with `JSONWriter` and read with `JSONValue`: no Foundation coder per row.
enum StoredOrchestration {
    /// The column's text; nil when there is nothing to store.
    static func json(_ job: Job) -> String? {
        guard job.runAt != nil || job.concurrencyKey != nil || job.retry != nil || job.priority != 0 || job.attempt != 1
            || !job.attempts.isEmpty || job.scheduleID != nil
        else { return nil }
        var w = JSONWriter()
        w.raw("{\"attempt\":"); w.raw(String(job.attempt))
        if let id = job.scheduleID { w.raw(",\"schedule_id\":"); w.string(id) }
        if let runAt = job.runAt { w.raw(",\"run_at\":"); w.raw(String(runAt.milliseconds)) }
        if let key = job.concurrencyKey { w.raw(",\"concurrency_key\":"); w.string(key) }
        if let limit = job.concurrencyLimit { w.raw(",\"concurrency_limit\":"); w.raw(String(limit)) }
        if let retry = job.retry { w.raw(",\"retry\":"); retry.write(into: &w) }
        if job.priority != 0 { w.raw(",\"priority\":"); w.raw(String(job.priority)) }
        if !job.attempts.isEmpty {
            w.raw(",\"attempts\":[")
            for (i, a) in job.attempts.enumerated() {
                if i > 0 { w.raw(",") }
                w.raw("{\"attempt\":\(a.attempt),\"finished_at\":\(a.finishedAt.milliseconds),\"state\":")
                w.string(a.state.rawValue)
                if let t = a.startedAt { w.raw(",\"started_at\":\(t.milliseconds)") }
                if let c = a.exitCode { w.raw(",\"exit_code\":\(c)") }
                if let s = a.signal { w.raw(",\"signal\":"); w.string(s) }
                if let e = a.error { w.raw(",\"error\":"); w.string(e) }
                w.raw("}")
            }
            w.raw("]")
        }
        w.raw("}")
        return w.text
    }

    /// Fills `job`'s orchestration fields from the column's text (nil: a plain job). Returns
    /// false when the text does not have the shape `json` writes.
    static func apply(_ text: String?, to job: inout Job) -> Bool {
        guard let text else { return true }
        guard let value = try? JSONValue.parse(text), let attempt = value["attempt"]?.int else { return false }
        job.attempt = attempt
        job.scheduleID = value["schedule_id"]?.string
        job.runAt = value["run_at"]?.int.map { Timestamp(milliseconds: Int64($0)) }
        job.priority = value["priority"]?.int ?? 0
        if let key = value["concurrency_key"] {
            guard case let .string(s) = key, let limit = value["concurrency_limit"]?.int else { return false }
            job.concurrencyKey = s
            job.concurrencyLimit = limit
        }
        if let retry = value["retry"] {
            guard let attempts = retry["max_attempts"]?.int, case let .number(backoff)? = retry["backoff_seconds"],
                  case let .array(on)? = retry["on"]
            else { return false }
            let states = on.compactMap { if case let .string(s) = $0 { JobState(rawValue: s) } else { nil } }
            guard states.count == on.count else { return false }
            job.retry = RetryPolicy(maxAttempts: attempts, backoffSeconds: backoff, on: states)
        }
        guard let attempts = value["attempts"] else { return true }
        guard case let .array(finished) = attempts else { return false }
        var list: [JobAttempt] = []
        for item in finished {
            guard let n = item["attempt"]?.int, let end = item["finished_at"]?.int,
                  case let .string(s)? = item["state"], let state = JobState(rawValue: s)
            else { return false }
            list.append(JobAttempt(
                attempt: n, startedAt: item["started_at"]?.int.map { Timestamp(milliseconds: Int64($0)) },
                finishedAt: Timestamp(milliseconds: Int64(end)), exitCode: item["exit_code"]?.int.map { Int32(truncatingIfNeeded: $0) },
                signal: item["signal"]?.string, error: item["error"]?.string, state: state))
        }
        job.attempts = list
        return true
    }
}

extension JSONValue {
    fileprivate var int: Int? {
        if case let .number(n) = self, n.rounded() == n, abs(n) < 9e15 { Int(n) } else { nil }
    }

    fileprivate var string: String? {
        if case let .string(s) = self { s } else { nil }
    }
}
