/// One HTTP request for `CurlTransport`: a method, a path relative to the transport's base URL
/// (query included, already percent-encoded), extra header fields and an optional body.
public struct ClientRequest: Sendable {
    public var method: String
    /// Path and query, e.g. `/v1/jobs?state=running`; appended to the base URL as is.
    public var path: String
    /// Extra header fields, sent in order. An empty value removes a header curl would add by
    /// itself (`("Expect", "")` turns off `Expect: 100-continue`).
    public var headers: [(String, String)]
    /// The request body; `nil` sends none (a `POST` without body sends `Content-Length: 0`).
    public var body: [UInt8]?

    public init(method: String = "GET", path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}
