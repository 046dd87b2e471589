import JobsdAPI

extension JobsdClient {
    /// `POST /v1/groups`: creates the group and all its jobs (`201`), or nothing (a `400` naming
    /// the first bad field, e.g. `jobs[2].command`; `429` when the jobs do not fit in the queue).
    public func submitGroup(_ spec: GroupSpec) async throws(ClientError) -> JobGroup {
        let request = ClientRequest(
            method: "POST", path: RequestPath.groups(), headers: [("Content-Type", "application/json")], body: Array(spec.json.utf8))
        return try await transport.send(request).decoded(JobGroup.self, expecting: [201])
    }

    /// `GET /v1/groups/{id}`: the group with the counts of its jobs' states now.
    public func group(_ id: String) async throws(ClientError) -> JobGroup {
        try await transport.send(ClientRequest(path: RequestPath.group(id))).decoded(JobGroup.self, expecting: [200])
    }

    /// Waits until the group is terminal or `timeout` seconds passed (`.infinity`: as long as it
    /// runs), long-polling `GET /v1/groups/{id}?wait=N` (N ≤ 60); check `state.isTerminal`.
    public func waitGroup(_ id: String, timeout: Double = 60) async throws(ClientError) -> JobGroup {
        let clock = ContinuousClock()
        let deadline = timeout.isFinite ? clock.now.advanced(by: .seconds(max(0, timeout))) : nil
        while true {
            let remaining = deadline.map { clock.now.duration(to: $0) } ?? .seconds(60)
            let waitSeconds = Int(min(60, max(0, Double(remaining.components.seconds) + (remaining.components.attoseconds > 0 ? 1 : 0))))
            let path = RequestPath.group(id, query: waitSeconds > 0 ? [("wait", String(waitSeconds))] : [])
            let group = try await transport.send(ClientRequest(path: path)).decoded(JobGroup.self, expecting: [200])
            if group.state.isTerminal || waitSeconds == 0 { return group }
            if let deadline, clock.now >= deadline { return group }
        }
    }

    /// `DELETE /v1/groups/{id}`: cancels every job of the group not yet terminal (`202`; `200`
    /// when it already was terminal, or `wait` (≤ 60 s) saw it become terminal).
    public func cancelGroup(_ id: String, wait: Double? = nil) async throws(ClientError) -> JobGroup {
        let query = wait.map { [("wait", RequestPath.seconds(min(60, $0)))] } ?? []
        let request = ClientRequest(method: "DELETE", path: RequestPath.group(id, query: query))
        return try await transport.send(request).decoded(JobGroup.self, expecting: [200, 202])
    }

    /// One page of `GET /v1/groups`, newest first; pass the previous page's `nextCursor` as
    /// `cursor` for the next one.
    public func listGroups(limit: Int? = nil, cursor: String? = nil) async throws(ClientError) -> GroupList {
        var query: [(String, String)] = []
        if let limit { query.append(("limit", String(limit))) }
        if let cursor { query.append(("cursor", cursor)) }
        return try await transport.send(ClientRequest(path: RequestPath.groups(query: query))).decoded(GroupList.self, expecting: [200])
    }
}
