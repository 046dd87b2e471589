import JobsdAPI
import JobsdCore
import JobsdHTTP
import JobsdStore

/// `GET /v1/events`: server-sent events, one per job state change (CONTRACT.md, "The event
/// stream"). Each event is `id: <cursor>`, `event: job.<state>`, `data: <the job JSON>`; the
/// cursor is the change's `seq` in the store's change log, so every stream gives the same change
/// the same id, also across restarts.
///
/// - No cursor: live changes only. With `Last-Event-ID` (or `?after=`): every later change from
///   the store, exactly once and in order, then live ones; the live subscription starts before
///   the store is read, and changes up to its start come from the store, later ones from it, so
///   there is no gap and no duplicate. A cursor older than retention is a `410`.
/// - A comment `: keep-alive` every 15 s while nothing matches.
/// - A reader more than 1 MiB behind is cut off (the stream ends; it resumes with its cursor).
/// - The stream ends when the client goes away or the server's shutdown cancels it, or, with
///   `?follow=false`, once the changes committed before the request were sent.
struct EventStreamRoutes: Sendable {
    let engine: JobEngine
    /// Seconds between keep-alive comments.
    var keepAliveInterval: Double = 15

    /// Changes read from the store per query while catching up.
    static let pageSize = 500

    func register(in router: inout HTTPRouter) {
        router.add("GET", "/v1/events") { request in
            do throws(APIError) { return try await events(request) } catch { return error.response }
        }
    }

    func events(_ request: HTTPRequest) async throws(APIError) -> HTTPResponse {
        let q = QueryParameters(request: request)
        let filter = ChangeFilter(jobIDs: Set(request.queryValues("job")), labels: try q.labels(), states: try q.states())
        let cursor = try Self.cursor(request)
        let follow = request.queryValue("follow") == nil ? true : try q.flag("follow")
        let headers: HTTPHeaders = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store")]
        if let cursor {
            let page: JobChangePage
            do { page = try await engine.changes(after: cursor, limit: 1) } catch { throw JobRoutes.map(error) }
            if page == .expired { throw .gone("changes after cursor \(cursor) were removed by retention; start again without a cursor") }
        }
        guard request.method != "HEAD" else { return HTTPResponse(status: 200, headers: headers) }
        await engine.waitUntilReady()  // the feed knows the store's last change from then on
        let (subscription, publishedThrough) = engine.changeFeed.subscribe(filter)
        let (engine, keepAlive) = (self.engine, keepAliveInterval)
        return HTTPResponse(status: 200, headers: headers, body: .stream { writer in
            defer { subscription.cancel() }
            var last = cursor ?? publishedThrough
            // Catch up from the store with what was committed before the subscription began.
            while last < publishedThrough {
                guard case let .changes(page) = try await engine.changes(after: last, limit: Self.pageSize), !page.isEmpty else { break }
                let wanted = page.filter { $0.seq <= publishedThrough }
                try await writer.write(Self.frames(wanted.filter(filter.matches)))
                last = wanted.last?.seq ?? publishedThrough
                if wanted.count < page.count { break }
            }
            last = max(last, publishedThrough)
            while follow {
                switch await subscription.next(timeout: keepAlive) {
                case .overflowed:
                    return
                case .idle:
                    try Task.checkCancellation()
                    try await writer.write(Array(": keep-alive\n\n".utf8))
                case let .changes(changes):
                    let fresh = changes.filter { $0.seq > last }
                    try await writer.write(Self.frames(fresh))
                    last = fresh.last?.seq ?? last
                }
            }
        })
    }

    /// `Last-Event-ID` (what an EventSource sends when it reconnects) or `?after=`.
    static func cursor(_ request: HTTPRequest) throws(APIError) -> Int64? {
        let (field, text) = request.headers["Last-Event-ID"].map { ("Last-Event-ID", $0) } ?? ("after", request.queryValue("after") ?? "")
        guard !text.isEmpty || field == "Last-Event-ID" else { return nil }
        guard let seq = Int64(text), seq >= 0 else { throw .invalid(field: field, detail: "\(field) is not a cursor this server sent") }
        return seq
    }

    /// `id:`, `event:` and `data:` lines of each change (the job JSON has no newline).
    static func frames(_ changes: [JobChange]) -> [UInt8] {
        var text = ""
        for change in changes {
            text += "id: \(change.seq)\nevent: job.\(change.state.rawValue)\ndata: \(change.json)\n\n"
        }
        return Array(text.utf8)
    }
}
