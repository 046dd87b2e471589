/// A complete HTTP response: the final status (interim `1xx` answers are skipped), the header
/// fields in arrival order and the whole body (empty for `HEAD`).
public struct ClientResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of the header field `name`, compared case-insensitively.
    public func header(_ name: String) -> String? { headers.firstValue(of: name) }

    /// The body as UTF-8 text (invalid bytes replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

extension [(name: String, value: String)] {
    func firstValue(of name: String) -> String? {
        let wanted = name.lowercased()
        return first { $0.name.lowercased() == wanted }?.value
    }
}
