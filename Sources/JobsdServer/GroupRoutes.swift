import JobsdAPI
import JobsdCore
import JobsdHTTP

/// The `/v1/groups` routes (CONTRACT.md, "Orchestration: Groups"): HTTP ⇄ engine. Errors become
/// problems through `APIError.response` only.
struct GroupRoutes: Sendable {
    let engine: JobEngine
    let lifecycle: ServerLifecycle
    let decoder: JobSpecDecoder

    static let fields: Set<String> = ["name", "labels", "fail_fast", "jobs"]

    func register(in router: inout HTTPRouter) {
        router.add("POST", "/v1/groups") { await handle($0, submit) }
        router.add("GET", "/v1/groups") { await handle($0, list) }
        router.add("GET", "/v1/groups/{id}") { await handle($0, get) }
        router.add("DELETE", "/v1/groups/{id}") { await handle($0, cancel) }
    }

    private func handle(_ request: HTTPRequest, _ body: (HTTPRequest) async throws(APIError) -> HTTPResponse) async -> HTTPResponse {
        do { return try await body(request) } catch { return error.response }
    }

    // MARK: - POST /v1/groups

    func submit(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        guard !lifecycle.isDraining else { throw .shuttingDown }
        let spec = try decode(request.body)
        let group: JobGroup
        do { group = try await engine.submitGroup(spec) } catch { throw JobRoutes.map(error) }
        return .json(status: 201, group.json, headers: [("Location", "/v1/groups/\(group.id)")])
    }

    /// The group spec, every job validated before anything is created (all or nothing); a bad
    /// job's field is named with its index (`jobs[3].command`).
    func decode(_ body: [UInt8]) throws(APIError) -> GroupSpec {
        guard !body.isEmpty else { throw .malformedBody("the request body must be a JSON object describing the group") }
        let value: JSONValue
        do { value = try JSONValue.parse(body) } catch { throw .malformedBody("the request body is not valid JSON: \(error)") }
        guard case let .object(members) = value else { throw .malformedBody("the request body must be a JSON object, not \(value.kindName)") }
        for (key, _) in members where !Self.fields.contains(key) {
            throw .invalid(field: key, detail: "unknown field '\(key)'; allowed: \(Self.fields.sorted().joined(separator: ", "))")
        }
        guard case let .array(items)? = value["jobs"], (1...GroupSpec.maxJobs).contains(items.count) else {
            throw .invalid(field: "jobs", detail: "jobs must be an array of 1-\(GroupSpec.maxJobs) job specs")
        }
        var jobs: [JobSpec] = []
        jobs.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            do { jobs.append(try decoder.decode(item)) } catch {
                switch error {
                case let .invalid(field, detail): throw .invalid(field: "jobs[\(i)].\(field)", detail: "jobs[\(i)]: \(detail)")
                case let .malformedBody(detail): throw .invalid(field: "jobs[\(i)]", detail: "jobs[\(i)]: \(detail)")
                default: throw error
                }
            }
        }
        var spec = GroupSpec(jobs: jobs)
        switch value["name"] {
        case nil, .null?: break
        case let .string(name)? where name.count <= 200: spec.name = name
        default: throw .invalid(field: "name", detail: "name must be a string of at most 200 characters")
        }
        if let labels = value["labels"], labels != .null { spec.labels = try decoder.labels(labels) }
        switch value["fail_fast"] {
        case nil, .null?: break
        case let .bool(b)?: spec.failFast = b
        default: throw .invalid(field: "fail_fast", detail: "fail_fast must be true or false")
        }
        return spec
    }

    // MARK: - GET /v1/groups

    func list(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        let q = QueryParameters(request: request)
        let limit = try q.integer("limit", in: 1...1000) ?? 100
        let cursor = try q.groupCursor()
        let groups: [JobGroup]
        do { groups = try await engine.listGroups(beforeID: cursor, limit: limit + 1) } catch { throw JobRoutes.map(error) }
        let page = Array(groups.prefix(limit))
        return .json(GroupList(groups: page, nextCursor: groups.count > limit ? page.last?.id : nil).json)
    }

    // MARK: - GET /v1/groups/{id}

    func get(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        let wait = try QueryParameters(request: request).number("wait", in: 0...JobRoutes.maxWait)
        return .json(try await group(id, waiting: wait).json)
    }

    private func group(_ id: String, waiting wait: Double?) async throws(APIError) -> JobGroup {
        guard JobIDGenerator.isWellFormed(id) else { throw .notFound("no group \(id)") }
        let found: JobGroup?
        do {
            if let wait, wait > 0 {
                found = try await engine.waitGroup(id, timeout: wait)
            } else {
                found = try await engine.group(id)
            }
        } catch { throw JobRoutes.map(error) }
        guard let found else { throw .notFound("no group \(id)") }
        return found
    }

    // MARK: - DELETE /v1/groups/{id}

    /// `202` with the group while its jobs are being cancelled; `200` when it already was
    /// terminal, or when `?wait=N` saw it become terminal.
    func cancel(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        let id = request.pathParameters["id"] ?? ""
        let wait = try QueryParameters(request: request).number("wait", in: 0...JobRoutes.maxWait)
        guard JobIDGenerator.isWellFormed(id) else { throw .notFound("no group \(id)") }
        let result: GroupCancelResult
        do { result = try await engine.cancelGroup(id) } catch { throw JobRoutes.map(error) }
        switch result {
        case let .terminal(group):
            return .json(status: 200, group.json)
        case let .cancelling(group):
            guard let wait, wait > 0 else { return .json(status: 202, group.json) }
            let latest = try await self.group(id, waiting: wait)
            return .json(status: latest.state.isTerminal ? 200 : 202, latest.json)
        }
    }
}
