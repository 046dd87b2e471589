import JobsdHTTP

/// The web UI (CONTRACT.md, "Web UI"): `GET /ui/` and `GET /ui/<file>` serve the embedded files,
/// `GET /` and `GET /ui` redirect to `/ui/`. These paths need no token (`BearerAuth.isOpen`): the
/// files hold no data, and every API call the page makes carries the token itself.
///
/// Every answer is static and made on the event loop (no waiting, nothing to cancel). Files are
/// sent with `Cache-Control: no-cache` and a strong ETag; `If-None-Match` naming the current ETag
/// gets `304`. A strict `Content-Security-Policy` allows scripts, styles, images and connections
/// from this origin only, and no inline script or style: the page needs none.
struct UIRoutes: Sendable {
    static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
        "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    func register(in router: inout HTTPRouter) {
        router.addImmediate("GET", "/") { _ in Self.redirectToUI }
        router.addImmediate("GET", "/ui") { _ in Self.redirectToUI }
        router.addImmediate("GET", "/ui/") { Self.serve("index.html", $0) }
        router.addImmediate("GET", "/ui/{file}") { Self.serve($0.pathParameters["file"] ?? "", $0) }
    }

    static let redirectToUI = HTTPResponse(status: 302, headers: [("Location", "/ui/"), ("Cache-Control", "no-cache")])

    /// The file's `200`, a `304` when the request already holds this version, or a `404` problem.
    static func serve(_ name: String, _ request: HTTPRequest) -> HTTPResponse {
        guard let asset = UIAsset.all[name] else { return .problem(status: 404, detail: "No file \(name) in the web UI.") }
        var headers: HTTPHeaders = [
            ("ETag", asset.etag),
            ("Cache-Control", "no-cache"),
            ("Content-Security-Policy", contentSecurityPolicy),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
        ]
        if matches(request.headers.values("If-None-Match"), asset.etag) {
            return HTTPResponse(status: 304, headers: headers)
        }
        headers.add("Content-Type", asset.contentType)
        return HTTPResponse(status: 200, headers: headers, body: .bytes(asset.bytes))
    }

    /// RFC 9110 §13.1.2: `*`, or a list of entity tags compared weakly (a `W/` prefix is ignored).
    static func matches(_ ifNoneMatch: [String], _ etag: String) -> Bool {
        for value in ifNoneMatch {
            for candidate in value.split(separator: ",") {
                var tag = candidate.trimmingSpaces
                if tag == "*" { return true }
                if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
                if tag == etag { return true }
            }
        }
        return false
    }
}

private extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
