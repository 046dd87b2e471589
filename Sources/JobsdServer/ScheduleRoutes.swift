import JobsdAPI
import JobsdCore
import JobsdHTTP

/// The `/v1/schedules` routes (openapi.yaml, "Schedules"): HTTP ⇄ `ScheduleRunner`. A bad body is
/// refused whole (nothing is created) with a problem naming the field; errors become problems
/// through `APIError.response` only.
struct ScheduleRoutes: Sendable {
    let runner: ScheduleRunner
    let lifecycle: ServerLifecycle
    let decoder: JobSpecDecoder

    static let fields: Set<String> = ["name", "cron", "timezone", "job", "overlap", "paused"]

    func register(in router: inout HTTPRouter) {
        router.add("POST", "/v1/schedules") { await handle($0, create) }
        router.add("GET", "/v1/schedules") { await handle($0, list) }
        router.add("GET", "/v1/schedules/{id}") { await handle($0, get) }
        router.add("DELETE", "/v1/schedules/{id}") { await handle($0, delete) }
        router.add("POST", "/v1/schedules/{id}/pause") { request in await handle(request) { r throws(APIError) in try await setPaused(r, true) } }
        router.add("POST", "/v1/schedules/{id}/resume") { request in await handle(request) { r throws(APIError) in try await setPaused(r, false) } }
    }

    private func handle(_ request: HTTPRequest, _ body: (HTTPRequest) async throws(APIError) -> HTTPResponse) async -> HTTPResponse {
        do { return try await body(request) } catch { return error.response }
    }

    // MARK: - POST /v1/schedules

    func create(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        guard !lifecycle.isDraining else { throw .shuttingDown }
        let body = request.body
        guard !body.isEmpty else { throw .malformedBody("the request body must be a JSON object describing the schedule") }
        let value: JSONValue
        do { value = try JSONValue.parse(body) } catch { throw .malformedBody("the request body is not valid JSON: \(error)") }
        guard case let .object(members) = value else { throw .malformedBody("the request body must be a JSON object, not \(value.kindName)") }
        for (key, _) in members where !Self.fields.contains(key) {
            throw .invalid(field: key, detail: "unknown field '\(key)'; allowed: \(Self.fields.sorted().joined(separator: ", "))")
        }
        guard case let .string(name)? = value["name"], (1...200).contains(name.count), !name.utf8.contains(0) else {
            throw .invalid(field: "name", detail: "name is required: a string of 1-200 characters")
        }
        guard case let .string(cron)? = value["cron"] else {
            throw .invalid(field: "cron", detail: "cron is required: a cron expression such as \"*/5 * * * *\"")
        }
        var timezone = "UTC"
        switch value["timezone"] {
        case nil, .null?: break
        case let .string(zone)?: timezone = zone
        case let other?: throw .invalid(field: "timezone", detail: "timezone must be an IANA time zone name, not \(other.kindName)")
        }
        let plan: SchedulePlan
        do { plan = try SchedulePlan(cron: cron, timezone: timezone) } catch {
            switch error {
            case let .cron(why): throw .invalid(field: "cron", detail: "cron: \(why)")
            case let .timezone(zone): throw .invalid(field: "timezone", detail: "timezone: unknown IANA time zone '\(zone)' (e.g. Europe/Berlin, UTC)")
            }
        }
        guard plan.next(after: .now()) != nil else {
            throw .invalid(field: "cron", detail: "cron: '\(cron)' never fires (no matching date within ten years)")
        }
        var overlap = ScheduleOverlap.skip
        switch value["overlap"] {
        case nil, .null?: break
        case let .string(s)? where ScheduleOverlap(rawValue: s) != nil: overlap = ScheduleOverlap(rawValue: s)!
        default: throw .invalid(field: "overlap", detail: "overlap must be one of: skip, queue, cancel_previous")
        }
        var paused = false
        switch value["paused"] {
        case nil, .null?: break
        case let .bool(b)?: paused = b
        default: throw .invalid(field: "paused", detail: "paused must be true or false")
        }
        let job = try self.job(value["job"])
        let schedule: Schedule
        do {
            schedule = try await runner.create(name: name, plan: plan, cron: cron, timezone: timezone, job: job, overlap: overlap, paused: paused)
        } catch { throw JobRoutes.map(error) }
        return .json(status: 201, schedule.json, headers: [("Location", "/v1/schedules/\(schedule.id)")])
    }

    /// The job spec, by the decoder of `POST /v1/jobs`; its fields are named `job.<field>`.
    private func job(_ value: JSONValue?) throws(APIError) -> JobSpec {
        guard let value, value != .null else {
            throw .invalid(field: "job", detail: "job is required: the job each run submits, as in POST /v1/jobs")
        }
        let spec: JobSpec
        do { spec = try decoder.decode(value) } catch {
            switch error {
            case let .invalid(field, detail): throw .invalid(field: "job.\(field)", detail: "job.\(detail)")
            case let .malformedBody(detail): throw .invalid(field: "job", detail: "job: \(detail)")
            default: throw error
            }
        }
        guard spec.runAt == nil else {
            throw .invalid(field: "job.run_at", detail: "job.run_at: a run starts at its tick; use delay_seconds to start later than the tick")
        }
        return spec
    }

    // MARK: - GET, DELETE, pause, resume

    func list(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        do { return .json(ScheduleList(schedules: try await runner.list()).json) } catch { throw JobRoutes.map(error) }
    }

    func get(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        let id = try scheduleID(request)
        let found: Schedule?
        do { found = try await runner.schedule(id) } catch { throw JobRoutes.map(error) }
        guard let found else { throw .notFound("no schedule \(id)") }
        return .json(found.json)
    }

    /// Deletes the schedule (answering it as it was); jobs it submitted are not touched.
    func delete(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        let id = try scheduleID(request)
        let found: Schedule?
        do { found = try await runner.delete(id) } catch { throw JobRoutes.map(error) }
        guard let found else { throw .notFound("no schedule \(id)") }
        return .json(found.json)
    }

    func setPaused(_ request: HTTPRequest, _ paused: Bool) async throws(APIError) -> HTTPResponse {
        let id = try scheduleID(request)
        let found: Schedule?
        do { found = try await runner.setPaused(id, paused) } catch { throw JobRoutes.map(error) }
        guard let found else { throw .notFound("no schedule \(id)") }
        return .json(found.json)
    }

    private func scheduleID(_ request: HTTPRequest) throws(APIError) -> String {
        let id = request.pathParameters["id"] ?? ""
        guard JobIDGenerator.isWellFormed(id) else { throw .notFound("no schedule \(id)") }
        return id
    }
}
