import JobsdAPI

extension JobsdClient {
    /// One page of `GET /v1/jobs`, newest first. Repeated `states` match any of them; `labels`
    /// must all match. `limit` (server default 100, at most 1000) is the page size; pass the
    /// previous page's `nextCursor` as `cursor` for the next page. `group`: only that group's jobs.
    public func listPage(
        states: [JobState] = [], labels: [String: String] = [:], limit: Int? = nil, cursor: String? = nil, group: String? = nil
    ) async throws(ClientError) -> JobList {
        var query = states.map { ("state", $0.rawValue) }
        query += labels.keys.sorted().map { ("label", "\($0):\(labels[$0]!)") }
        if let group { query.append(("group", group)) }
        if let limit { query.append(("limit", String(limit))) }
        if let cursor { query.append(("cursor", cursor)) }
        return try await transport.send(ClientRequest(path: RequestPath.jobs(query: query))).decoded(JobList.self, expecting: [200])
    }

    /// Every job matching the filters, newest first, fetched page by page (`pageSize` per request)
    /// as the sequence is iterated; at most `limit` jobs when set. Stopping the iteration stops
    /// the paging; cancelling the iterating task aborts the request in flight.
    public func list(
        states: [JobState] = [], labels: [String: String] = [:], limit: Int? = nil, pageSize: Int = 100
    ) -> JobListSequence {
        JobListSequence(client: self, states: states, labels: labels, limit: limit, pageSize: pageSize)
    }
}
