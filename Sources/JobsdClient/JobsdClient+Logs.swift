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

    private static func logQuery(_ stream: LogStream?, follow: Bool) -> [(String, String)] {
        var query: [(String, String)] = []
        if let stream { query.append(("stream", stream.rawValue)) }
        if follow { query.append(("follow", "true")) }
        return query
    }
}
