/// Handlers for a request, executed in the request's Task (see `HTTPServer` for cancellation).
public typealias HTTPHandler = @Sendable (HTTPRequest) async -> HTTPResponse

/// A synchronous handler the server calls on its event loop's queue before starting a Task: it
/// returns the response when it can answer without waiting, nil otherwise (then the request's
/// `HTTPHandler` runs as usual). It must not block, sleep or take a lock held across I/O, since
/// every connection of the loop waits meanwhile; it cannot be cancelled and has no timeout.
public typealias HTTPImmediateHandler = @Sendable (HTTPRequest) -> HTTPResponse?

/// Maps method + path pattern to handlers. `{name}` in a pattern matches one non-empty segment and
/// is passed in `pathParameters`; a literal segment wins over a parameter where both match.
public struct HTTPRouter: Sendable {
    private struct Route: Sendable {
        var method: String
        var pattern: String
        var segments: [Segment]
        var handler: HTTPHandler
        var immediate: HTTPImmediateHandler?
    }

    private enum Segment: Sendable, Equatable {
        case literal([UInt8])
        case parameter(String)
    }

    private var routes: [Route] = []

    public init() {}

    /// `immediate`, when given, answers the route on the event loop when it can (see
    /// `handleImmediately`); `handler` answers when it returns nil or is absent.
    public mutating func add(_ method: String, _ pattern: String, immediate: HTTPImmediateHandler? = nil,
                             _ handler: @escaping HTTPHandler) {
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { piece -> Segment in
            piece.first == "{" && piece.last == "}" && piece.count > 2 ? .parameter(String(piece.dropFirst().dropLast())) : .literal(Array(piece.utf8))
        }
        routes.append(Route(method: method, pattern: pattern, segments: segments, handler: handler, immediate: immediate))
        // Most specific first: at the first differing segment, a literal beats a parameter.
        routes.sort { Self.isMoreSpecific($0.segments, than: $1.segments) }
    }

    /// A route whose handler always answers without waiting: on the event loop, or in the
    /// request's Task when the server did not ask the immediate handlers first. (A name of its
    /// own: as an `add` overload it would capture every synchronous trailing closure.)
    public mutating func addImmediate(_ method: String, _ pattern: String, _ handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        add(method, pattern, immediate: { handler($0) }) { handler($0) }
    }

    /// Unknown path → 404 problem; known path with another method → 405 problem with `Allow`.
    /// HEAD is served by the GET handler (the server drops the body).
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        switch resolve(request) {
        case let .route(route, request): await route.handler(request)
        case let .answer(response): response
        }
    }

    /// The response of the route's immediate handler, or the 404/405 problem `handle` would give;
    /// nil when the route has no immediate handler or it cannot answer without waiting.
    public func handleImmediately(_ request: HTTPRequest) -> HTTPResponse? {
        switch resolve(request) {
        case let .route(route, request): route.immediate?(request)
        case let .answer(response): response
        }
    }

    private enum Resolution {
        case route(Route, HTTPRequest)
        case answer(HTTPResponse)
    }

    private func resolve(_ request: HTTPRequest) -> Resolution {
        var allowed: [String] = []
        let method = request.method == "HEAD" ? "GET" : request.method
        let found = Self.withBytes(of: request.path) { path -> Resolution? in
            let segmentCount = Self.segmentCount(path)
            // By index: iterating the routes themselves would copy (retain) each one.
            for index in routes.indices where routes[index].segments.count == segmentCount {
                let routeMethod = routes[index].method
                guard let parameters = Self.match(routes[index].segments, path, bindingParameters: routeMethod == method) else { continue }
                if routeMethod == method {
                    var request = request
                    request.pathParameters = parameters
                    return .route(routes[index], request)
                }
                if !allowed.contains(routeMethod) { allowed.append(routeMethod) }
                if routeMethod == "GET" && !allowed.contains("HEAD") { allowed.append("HEAD") }
            }
            return nil
        }
        if let found { return found }
        if allowed.isEmpty {
            return .answer(.problem(status: 404, detail: "No resource at \(request.path)."))
        }
        return .answer(.problem(status: 405, detail: "\(request.method) is not allowed on \(request.path).",
                                headers: [("Allow", allowed.joined(separator: ", "))]))
    }

    /// The pattern that matches `path` (e.g. "/v1/jobs/{id}"), nil when none.
    public func pattern(for path: String) -> String? {
        Self.withBytes(of: path) { path in
            let segmentCount = Self.segmentCount(path)
            return routes.indices.first { index in
                routes[index].segments.count == segmentCount && Self.match(routes[index].segments, path, bindingParameters: false) != nil
            }.map { routes[$0].pattern }
        }
    }

    /// Runs `body` on `text`'s UTF-8 bytes in place (a copy only for a non-native string).
    private static func withBytes<R>(of text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }

    /// The segments a path has for `match`: one after each "/" (a route with another count cannot
    /// match, so most routes are skipped without looking at their segments).
    private static func segmentCount(_ path: UnsafeBufferPointer<UInt8>) -> Int {
        path.reduce(0) { $1 == ASCII.slash ? $0 + 1 : $0 }
    }

    /// The parameters when `path`'s segments (what follows each "/") match `pattern`, else nil.
    /// Walks the path's bytes without splitting it (this runs for every request, twice with the
    /// metrics); parameters are only copied out when `bindingParameters`.
    private static func match(_ pattern: [Segment], _ path: UnsafeBufferPointer<UInt8>, bindingParameters: Bool) -> [String: String]? {
        var separator = path.firstIndex(of: ASCII.slash)
        var parameters: [String: String] = [:]
        for segment in pattern {
            guard let before = separator else { return nil }
            let start = before + 1
            var end = start
            while end < path.count && path[end] != ASCII.slash { end += 1 }
            let piece = UnsafeBufferPointer(rebasing: path[start..<end])
            switch segment {
            case .literal(let literal):
                guard literal.withUnsafeBufferPointer({ $0.elementsEqual(piece) }) else { return nil }
            case .parameter(let name):
                guard !piece.isEmpty else { return nil }
                if bindingParameters { parameters[name] = String(decoding: piece, as: UTF8.self) }
            }
            separator = end == path.count ? nil : end
        }
        return separator == nil ? parameters : nil
    }

    private static func isMoreSpecific(_ a: [Segment], than b: [Segment]) -> Bool {
        for (x, y) in zip(a, b) {
            switch (x, y) {
            case (.literal, .parameter): return true
            case (.parameter, .literal): return false
            default: continue
            }
        }
        return false
    }
}
