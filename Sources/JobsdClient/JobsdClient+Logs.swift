import JobsdAPI

extension JobsdClient {
    /// `GET /v1/jobs/{id}/logs`: the output kept so far; `stream` picks stdout or stderr only;
    /// `attempt` one attempt of a retried job (default: the latest that started; `404` for one
    /// the job has not reached).
    public func logs(_ id: String, stream: LogStream? = nil, attempt: Int? = nil) async throws(ClientError) -> JobLogs {
        var query = Self.logQuery(stream, follow: false)
        if let attempt { query.append(("attempt", String(attempt))) }
        let response = try await transport.send(ClientRequest(path: RequestPath.logs(id, query: query)))
        guard response.status == 200 else { throw response.failure() }
        return JobLogs(bytes: response.body, truncated: response.header("Jobsd-Log-Truncated")?.lowercased() == "true")
    }

    /// `GET /v1/jobs/{id}/logs?follow=true`: the output so far, then new output as it arrives;
    /// the sequence ends when the job is terminal and all its output was delivered.
    ///
    /// The request starts on the first `next()`. Cancelling the iterating task, or dropping the
    /// iterator, aborts the request and closes its connection.
    public func followLogs(_ id: String, stream: LogStream? = nil) -> LogFollowSequence {
        LogFollowSequence(transport: transport, request: ClientRequest(path: RequestPath.logs(id, query: Self.logQuery(stream, follow: true))))
    }

    /// `GET /v1/events`: every job state change from now on (`after` nil), or every change after
    /// the event whose `id` is `after`, then live ones; filtered by job ids (any), labels (all)
    /// and states (any). Returns once the server answered: every change from then on will be in
    /// the sequence (so a caller can subscribe, then read a job, then wait for its change without
    /// a race). Cancelling the iterating task or dropping the sequence closes the connection. A
    /// cursor older than the server's retention throws a `410` problem. With `follow: false` the
    /// sequence ends once the changes made before the request were delivered.
    public func changes(
        after: String? = nil, jobs: [String] = [], labels: [String: String] = [:], states: [JobState] = [], follow: Bool = true
    ) async throws(ClientError) -> JobChangeSequence {
        var query: [(String, String)] = []
        if let after { query.append(("after", after)) }
        if !follow { query.append(("follow", "false")) }
        query += jobs.map { ("job", $0) }
        query += labels.sorted { $0.key < $1.key }.map { ("label", "\($0.key):\($0.value)") }
        query += states.map { ("state", $0.rawValue) }
        let response = try await transport.stream(ClientRequest(path: RequestPath.changes(query: query)))
        guard response.status == 200 else { throw try await response.collect().failure() }
        return JobChangeSequence(body: response.body)
    }

    private static func logQuery(_ stream: LogStream?, follow: Bool) -> [(String, String)] {
        var query: [(String, String)] = []
        if let stream { query.append(("stream", stream.rawValue)) }
        if follow { query.append(("follow", "true")) }
        return query
    }
}
