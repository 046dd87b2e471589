import JobsdAPI
import JobsdCore
import JobsdHTTP
import JobsdStore

/// The `/v1/jobs` routes: HTTP ⇄ engine. Validation errors and engine errors become problems
/// through `APIError.response` only.
struct JobRoutes: Sendable {
    let engine: JobEngine
    let lifecycle: ServerLifecycle
    let decoder: JobSpecDecoder
    let bodies: TerminalJobBodies

    /// Longest `?wait=` accepted on GET and DELETE, in seconds.
    static let maxWait: Double = 60

    func register(in router: inout HTTPRouter) {
        let queueFull = APIError.queueFull(limit: engine.queueLimit).response
        router.add("POST", "/v1/jobs", immediate: { [engine, lifecycle] in Self.refuseWhenFull($0, engine: engine, lifecycle: lifecycle, queueFull) }) {
            await handle($0, submit)
        }
        router.add("GET", "/v1/jobs") { await handle($0, list) }
        // The immediate handler captures only what it uses (capturing `self` would copy all of
        // `JobRoutes` on every GET).
        router.add("GET", "/v1/jobs/{id}", immediate: { [engine, bodies] in Self.peek($0, engine: engine, bodies: bodies) }) {
            await handle($0, get)
        }
        router.add("DELETE", "/v1/jobs/{id}") { await handle($0, cancel) }
        router.add("GET", "/v1/jobs/{id}/logs") { await handle($0, logs) }
        router.add("GET", "/v1/jobs/{id}/events") { await handle($0, events) }
    }

    private func handle(_ request: HTTPRequest, _ body: (HTTPRequest) async throws(APIError) -> HTTPResponse) async -> HTTPResponse {
        do { return try await body(request) } catch { return error.response }
    }

    // MARK: - POST /v1/jobs

    func submit(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        guard !lifecycle.isDraining else { throw .shuttingDown }
        let key = try idempotencyKey(request)
        let (spec, body) = try decoder.decode(request.body)
        let result: SubmitResult
        do {
            result = try await engine.submit(spec, idempotencyKey: key, fingerprint: key == nil ? nil : body.canonicalText)
        } catch { throw Self.map(error) }
        switch result {
        case let .created(job):
            return .json(status: 201, job.json, headers: [("Location", "/v1/jobs/\(job.id)")])
        case let .existing(job):
            return .json(status: 200, job.json, headers: [("Location", "/v1/jobs/\(job.id)")])
        }
    }

    /// A POST while the queue is full is refused on the event loop with the one prebuilt `429`,
    /// before its body is decoded: no Task, no store, no allocation but the response's, so a flood
    /// of them leaves the machine to the jobs already admitted. (A malformed body then gets its
    /// `400` once there is room; `submit` refuses a full queue before it looks at an
    /// `Idempotency-Key` too.) During shutdown `submit` answers (`503`).
    static func refuseWhenFull(_ request: HTTPRequest, engine: JobEngine, lifecycle: ServerLifecycle, _ queueFull: HTTPResponse) -> HTTPResponse? {
        guard engine.isQueueFull, !lifecycle.isDraining else { return nil }
        return queueFull
    }

    private func idempotencyKey(_ request: HTTPRequest) throws(APIError) -> String? {
        let values = request.headers.values("Idempotency-Key")
        guard let key = values.first else { return nil }
        guard values.count == 1, (1...128).contains(key.utf8.count), key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .invalid(field: "Idempotency-Key", detail: "Idempotency-Key must be 1-128 visible ASCII characters")
        }
        return key
    }

    // MARK: - GET /v1/jobs

    func list(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        let q = QueryParameters(request: request)
        let limit = try q.integer("limit", in: 1...1000) ?? 100
        var query = JobQuery(states: try q.states(), labels: try q.labels(), after: try q.cursor(), limit: limit + 1, groupID: try q.group(),
            scheduleID: try q.schedule())
        if query.labels.values.contains("\u{0}") { query.limit = 0 }
        let jobs: [Job]
        do { jobs = query.limit == 0 ? [] : try await engine.list(query) } catch { throw Self.map(error) }
        let page = Array(jobs.prefix(limit))
        let next = jobs.count > limit ? page.last.map { JobListPosition($0).cursor } : nil
        return .json(JobList(jobs: page, nextCursor: next).json)
    }

    // MARK: - GET /v1/jobs/{id}

    /// GET (and HEAD) without a query: answered on the event loop when the job is in memory (the
    /// engine's live jobs or the store's cache), else deferred to the store's read; nil (a query:
    /// `?wait=`) sends the request to `get`.
    static func peek(_ request: HTTPRequest, engine: JobEngine, bodies: TerminalJobBodies) -> HTTPResponse? {
        guard request.query.isEmpty else { return nil }
        let id = request.pathParameters["id"] ?? ""
        guard JobIDGenerator.isWellFormed(id) else { return APIError.notFound("no job \(id)").response }
        if let job = engine.cachedJob(id) { return jobResponse(job, bodies: bodies) }
        // Not in memory (a finished job beyond the record cache): read from the store's reader
        // thread and answered from there on the loop, without a Task (half the thread hops).
        return HTTPResponse(status: 200, body: .deferred { reply in
            engine.readStoredJob(id) { result in
                switch result {
                case let .success(job?): reply(jobResponse(job, bodies: bodies))
                case .success(nil): reply(APIError.notFound("no job \(id)").response)
                case let .failure(error): reply(map(error).response)
                }
            }
        })
    }

    private static let jsonHeaders: HTTPHeaders = [("Content-Type", "application/json")]

    private static func jobResponse(_ job: Job, bodies: TerminalJobBodies) -> HTTPResponse {
        HTTPResponse(status: 200, headers: jsonHeaders, body: .bytes(bodies.json(of: job)))
    }

    func get(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        let wait = try QueryParameters(request: request).number("wait", in: 0...Self.maxWait)
        return Self.jobResponse(try await job(id, waiting: wait), bodies: bodies)
    }

    private func job(_ id: String, waiting wait: Double?) async throws(APIError) -> Job {
        guard JobIDGenerator.isWellFormed(id) else { throw .notFound("no job \(id)") }
        let found: Job?
        do {
            if let wait, wait > 0 {
                found = try await engine.wait(id, timeout: wait)
            } else {
                found = try await engine.job(id)
            }
        } catch { throw Self.map(error) }
        guard let found else { throw .notFound("no job \(id)") }
        return found
    }

    // MARK: - GET /v1/jobs/{id}/events

    /// The job's termination timeline; `404` for an unknown id.
    func events(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        guard JobIDGenerator.isWellFormed(id) else { throw .notFound("no job \(id)") }
        let found: [JobEvent]?
        do { found = try await engine.events(id) } catch { throw Self.map(error) }
        guard let found else { throw .notFound("no job \(id)") }
        return .json(JobTimeline(events: found).json)
    }

    // MARK: - DELETE /v1/jobs/{id}

    func cancel(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        let q = QueryParameters(request: request)
        let wait = try q.number("wait", in: 0...Self.maxWait)
        let grace = try q.number("grace", in: 0...decoder.maxTimeout)
        guard JobIDGenerator.isWellFormed(id) else { throw .notFound("no job \(id)") }
        let result: CancelResult
        do { result = try await engine.cancel(id, grace: grace, wait: wait) } catch { throw Self.map(error) }
        switch result {
        case let .cancelled(job):
            return .json(status: 200, job.json)
        case let .finished(job):
            throw .conflict(state: job.state, detail: "job \(job.id) already \(job.state.rawValue); it can no longer be cancelled")
        case let .cancelling(job):
            return .json(status: 202, job.json)
        }
    }

    // MARK: - GET /v1/jobs/{id}/logs

    func logs(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        let q = QueryParameters(request: request)
        let stream = try q.stream()
        let follow = try q.flag("follow")
        let attempt = try q.integer("attempt", in: 1...RetryPolicy.attemptRange.upperBound)
        guard JobIDGenerator.isWellFormed(id) else { throw .notFound("no job \(id)") }
        let first: LogChunk
        do { first = try await engine.readLogs(id, attempt: attempt, stream: stream, from: nil) } catch { throw Self.map(error) }
        var headers: HTTPHeaders = [("Content-Type", "text/plain"), ("Cache-Control", "no-store")]
        if first.truncated { headers.set("Jobsd-Log-Truncated", "true") }
        // HEAD never streams: it answers with the headers of the output so far.
        guard follow, request.method != "HEAD" else { return HTTPResponse(status: 200, headers: headers, body: .bytes(first.bytes)) }
        let engine = self.engine
        return HTTPResponse(status: 200, headers: headers, body: .stream { writer in
            var chunk = first
            while true {
                if !chunk.bytes.isEmpty { try await writer.write(chunk.bytes) }
                if chunk.jobTerminal && chunk.bytes.isEmpty { return }
                if chunk.bytes.isEmpty { await engine.waitForLogs(id, after: chunk.next, timeout: 15) }
                try Task.checkCancellation()
                chunk = try await engine.readLogs(id, attempt: attempt, stream: stream, from: chunk.next)
            }
        })
    }

    // MARK: - Engine errors

    static func map(_ error: EngineError) -> APIError {
        switch error {
        case let .queueFull(limit): .queueFull(limit: limit)
        case .shuttingDown: .shuttingDown
        case let .idempotencyMismatch(jobID): .idempotencyMismatch(jobID: jobID)
        case let .notFound(id): .notFound("no job \(id)")
        case let .storeUnavailable(why): .storeUnavailable(why)
        case let .noSuchAttempt(id, attempt): .notFound("job \(id) has no attempt \(attempt)")
        case let .groupNotFound(id): .notFound("no group \(id)")
        }
    }
}
