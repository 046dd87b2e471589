/// A webhook URL taken apart: `http(s)://[userinfo@]host[:port][/path][?query]` (RFC 3986 §3),
/// what the allow-list checks and what libcurl is given (`origin` + `pathAndQuery`, fragment
/// dropped).
struct WebhookTarget {
    /// Lower-cased, without brackets for an IPv6 literal.
    var host: String
    /// Scheme and authority: `http://example.com:8080`.
    var origin: String
    /// From the first `/` or `?` after the authority; empty for none.
    var pathAndQuery: String

    static let maxLength = 2048

    init(_ url: String) throws(WebhookTargetError) {
        guard url.utf8.count <= Self.maxLength else { throw WebhookTargetError("the URL must be at most \(Self.maxLength) characters") }
        guard url.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else {
            throw WebhookTargetError("the URL must not contain blanks or control characters")
        }
        let lower = url.lowercased()
        guard let schemeEnd = ["http://", "https://"].first(where: lower.hasPrefix)?.count else {
            throw WebhookTargetError("the URL must start with http:// or https://")
        }
        let rest = url.dropFirst(schemeEnd)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var tail = rest[authorityEnd...]
        if let hash = tail.firstIndex(of: "#") { tail = tail[..<hash] }
        let hostAndPort = authority.lastIndex(of: "@").map { authority[authority.index(after: $0)...] } ?? authority
        let host: Substring
        let port: Substring?
        if hostAndPort.hasPrefix("[") {
            guard let close = hostAndPort.firstIndex(of: "]") else { throw WebhookTargetError("the URL's IPv6 host lacks its ']'") }
            host = hostAndPort[hostAndPort.index(after: hostAndPort.startIndex)..<close]
            let after = hostAndPort[hostAndPort.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { throw WebhookTargetError("the URL's authority is malformed") }
            port = after.isEmpty ? nil : after.dropFirst()
        } else if let colon = hostAndPort.lastIndex(of: ":") {
            host = hostAndPort[..<colon]
            port = hostAndPort[hostAndPort.index(after: colon)...]
        } else {
            host = hostAndPort
            port = nil
        }
        guard !host.isEmpty else { throw WebhookTargetError("the URL has no host") }
        if let port {
            guard let number = Int(port), (1...65535).contains(number) else {
                throw WebhookTargetError("the URL's port must be a number from 1 to 65535")
            }
        }
        self.host = host.lowercased()
        origin = String(url[..<authorityEnd])
        pathAndQuery = String(tail)
    }
}
