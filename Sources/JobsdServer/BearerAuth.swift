import JobsdHTTP

/// Bearer-token check for every route but `/healthz`, `/readyz` and the web UI's own files (`/`,
/// `/ui`, `/ui/…`: they hold no data; the page sends the token with every API call). The
/// comparison takes the same time wherever the first difference is.
struct BearerAuth: Sendable {
    let token: String?

    static let openPaths: Set<String> = ["/healthz", "/readyz", "/", "/ui"]

    static func isOpen(_ path: String) -> Bool {
        openPaths.contains(path) || path.hasPrefix("/ui/")
    }

    func allows(_ request: HTTPRequest) -> Bool {
        guard let token, !Self.isOpen(request.path) else { return true }
        guard let header = request.headers["Authorization"] else { return false }
        let prefix = "bearer "
        guard header.utf8.count > prefix.utf8.count, header.lowercased().hasPrefix(prefix) else { return false }
        let presented = Array(header.utf8.dropFirst(prefix.utf8.count))
        return Self.constantTimeEquals(presented, Array(token.utf8))
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0xFF)
        }
        return diff == 0
    }
}
