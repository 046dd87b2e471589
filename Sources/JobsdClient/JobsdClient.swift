import JobsdAPI

/// Typed client of the jobsd v1 API (CONTRACT.md), over `CurlTransport`.
///
/// Every call throws `ClientError`: `.problem` carries the server's problem body (404 unknown
/// job, 409 already finished, 400 with the offending `field`…), `.connection` when the server
/// cannot be reached. Cancelling the calling task aborts the HTTP request (`.cancelled`).
public final class JobsdClient: Sendable {
    public let transport: CurlTransport

    /// - Parameter token: sent as `Authorization: Bearer <token>` on every request.
    public init(baseURL: String = "http://127.0.0.1:8080", token: String? = nil) {
        transport = CurlTransport(baseURL: baseURL, token: token)
    }

    public init(transport: CurlTransport) { self.transport = transport }

    /// `POST /v1/jobs`. Returns the created job (`201`), or the job an earlier submit with the
    /// same `idempotencyKey` and the same spec created (`200`). A key reused with another spec
    /// is a `422` problem; a full queue a `429`; a server shutting down a `503`.
    public func submit(_ spec: JobSpec, idempotencyKey: String? = nil) async throws(ClientError) -> Job {
        try await submit(body: spec.json, idempotencyKey: idempotencyKey)
    }

    /// `POST /v1/jobs` running a server-side template (`--templates`); as `submit(_:)`, and a bad
    /// parameter is a `400` problem naming `params.<name>`.
    public func submit(_ request: TemplateRequest, idempotencyKey: String? = nil) async throws(ClientError) -> Job {
        try await submit(body: request.json, idempotencyKey: idempotencyKey)
    }

    private func submit(body: String, idempotencyKey: String?) async throws(ClientError) -> Job {
        var headers = [("Content-Type", "application/json")]
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        let request = ClientRequest(method: "POST", path: RequestPath.jobs(), headers: headers, body: Array(body.utf8))
        return try await transport.send(request).decoded(Job.self, expecting: [200, 201])
    }

    /// `GET /v1/templates`: the server's command templates as JSON (`{"templates": […]}`).
    public func templates() async throws(ClientError) -> JSONValue {
        let response = try await transport.send(ClientRequest(path: "/v1/templates"))
        guard response.status == 200 else {
            _ = try response.decoded(Problem.self, expecting: [200])  // throws the problem the server sent
            throw .unexpected(status: response.status, body: String(decoding: response.body, as: UTF8.self))
        }
        do { return try JSONValue.parse(response.body) } catch { throw .decoding("GET /v1/templates: \(error)") }
    }

    /// `GET /v1/jobs/{id}`: the job as it is now.
    public func job(_ id: String) async throws(ClientError) -> Job {
        try await transport.send(ClientRequest(path: RequestPath.job(id))).decoded(Job.self, expecting: [200])
    }

    /// Waits until the job is terminal or `timeout` seconds passed, and returns it then (check
    /// `state.isTerminal`). Long-polls `GET /v1/jobs/{id}?wait=N` with N ≤ 60, repeating the call
    /// while time remains; `timeout: .infinity` waits as long as the job runs. A timeout of 0 is
    /// a plain read.
    public func wait(_ id: String, timeout: Double = 60) async throws(ClientError) -> Job {
        let clock = ContinuousClock()
        let deadline = timeout.isFinite ? clock.now.advanced(by: .seconds(max(0, timeout))) : nil
        while true {
            let remaining = deadline.map { Self.seconds(clock.now.duration(to: $0)) } ?? 60
            let waitSeconds = Int(min(60, max(0, remaining.rounded(.up))))
            let path = RequestPath.job(id, query: waitSeconds > 0 ? [("wait", String(waitSeconds))] : [])
            let job = try await transport.send(ClientRequest(path: path)).decoded(Job.self, expecting: [200])
            if job.state.isTerminal || waitSeconds == 0 { return job }
            if let deadline, clock.now >= deadline { return job }
        }
    }

    /// `DELETE /v1/jobs/{id}`: cancels a queued job (`200`, now `cancelled`) or a running one
    /// (`202`, now `cancelling`); idempotent. A finished job is a `409` problem naming its state.
    ///
    /// - Parameters:
    ///   - grace: SIGTERM → SIGKILL delay for this cancel, shortening the job's `grace_seconds`.
    ///   - wait: seconds to wait for the job to become terminal before answering; more than 60
    ///     continues with `wait(_:timeout:)`.
    public func cancel(_ id: String, grace: Double? = nil, wait: Double? = nil) async throws(ClientError) -> Job {
        var query: [(String, String)] = []
        if let wait, wait > 0 { query.append(("wait", RequestPath.seconds(min(60, wait)))) }
        if let grace { query.append(("grace", RequestPath.seconds(grace))) }
        let request = ClientRequest(method: "DELETE", path: RequestPath.job(id, query: query))
        let job = try await transport.send(request).decoded(Job.self, expecting: [200, 202])
        guard let wait, wait > 60, !job.state.isTerminal else { return job }
        return try await self.wait(id, timeout: wait - 60)
    }

    /// `GET /v1/jobs/{id}/events`: the job's termination timeline, oldest first.
    public func events(_ id: String) async throws(ClientError) -> [JobEvent] {
        let response = try await transport.send(ClientRequest(path: RequestPath.events(id)))
        guard response.status == 200 else { throw response.failure() }
        do { return try JobTimeline(json: response.body).events } catch { throw .decoding("\(error)") }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
