/// One decoded request. `path` and `query` are percent-decoded from `target`;
/// `pathParameters` is filled by `HTTPRouter` from the matched pattern.
public struct HTTPRequest: Sendable {
    public var method: String
    public var target: String
    public var path: String
    public var query: [(name: String, value: String)]
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]
    public var pathParameters: [String: String] = [:]

    /// Builds a request the way the decoder does; a target that is not valid origin-form is kept
    /// as the path with no query (for tests and in-process callers).
    public init(method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [], body: [UInt8] = []) {
        let parsed = try? HTTPRequestTarget.parse(Array(target.utf8))
        self.init(method: method, target: target, path: parsed?.path ?? target, query: parsed?.query ?? [],
                  version: version, headers: headers, body: body)
    }

    init(method: String, target: String, path: String, query: [(name: String, value: String)],
         version: HTTPVersion, headers: HTTPHeaders, body: [UInt8]) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// Every value of the query parameter `name`, in order.
    public func queryValues(_ name: String) -> [String] {
        query.compactMap { $0.name == name ? $0.value : nil }
    }

    /// The first value of the query parameter `name`.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }

    /// Whether the connection stays open after this request (RFC 9112 §9.3): HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    var wantsKeepAlive: Bool {
        let tokens = headers.lowercasedTokens("Connection")
        switch version {
        case .http1_1: return !tokens.contains("close")
        case .http1_0: return tokens.contains("keep-alive") && !tokens.contains("close")
        }
    }
}
