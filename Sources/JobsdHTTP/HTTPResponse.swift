/// A response from a handler. The server adds `Date`, `Server`, `Content-Length` (for `.bytes`) or
/// chunked framing (for `.stream`) and `Connection`; values the handler sets for those framing
/// headers are replaced.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: HTTPResponseBody

    public init(status: Int, headers: HTTPHeaders = [], body: HTTPResponseBody = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// An `application/json` response whose body is `text`.
    public static func json(status: Int = 200, _ text: String, headers: HTTPHeaders = []) -> HTTPResponse {
        var headers = headers
        headers.set("Content-Type", "application/json")
        return HTTPResponse(status: status, headers: headers, body: .bytes(Array(text.utf8)))
    }

    /// The one place problems are made: an RFC 9457 `application/problem+json` body
    /// `{"type":"about:blank","title":…,"status":…,"detail":…, extra…}`. `title` defaults to the
    /// status's reason phrase; `extra` values are written as JSON strings, `extraJSON` values as
    /// already-encoded JSON (numbers, objects).
    public static func problem(status: Int, title: String? = nil, detail: String, headers: HTTPHeaders = [],
                               extra: [(String, String)] = [], extraJSON: [(String, String)] = []) -> HTTPResponse {
        var json = "{\"type\":\"about:blank\",\"title\":"
        appendJSONString(title ?? reasonPhrase(for: status), to: &json)
        json += ",\"status\":\(status),\"detail\":"
        appendJSONString(detail, to: &json)
        for (name, value) in extra {
            json += ","
            appendJSONString(name, to: &json)
            json += ":"
            appendJSONString(value, to: &json)
        }
        for (name, value) in extraJSON {
            json += ","
            appendJSONString(name, to: &json)
            json += ":" + value
        }
        json += "}"
        var headers = headers
        headers.set("Content-Type", "application/problem+json")
        return HTTPResponse(status: status, headers: headers, body: .bytes(Array(json.utf8)))
    }

    /// Appends `text` as a JSON string literal (RFC 8259 §7).
    static func appendJSONString(_ text: String, to json: inout String) {
        json += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "\n": json += "\\n"
            case "\r": json += "\\r"
            case "\t": json += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                json += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: json.unicodeScalars.append(scalar)
            }
        }
        json += "\""
    }
}

/// A response body: bytes sent with `Content-Length`, or a stream the server frames as chunked
/// (HTTP/1.1) or close-delimited (HTTP/1.0). A stream closure runs in the request's Task: it is
/// cancelled when the client goes away or the server's shutdown grace period ends, and then
/// `HTTPBodyWriter.write` throws. A stream that throws ends the connection without the last chunk,
/// so the client sees a truncated response.
public enum HTTPResponseBody: Sendable {
    case bytes([UInt8])
    case stream(@Sendable (HTTPBodyWriter) async throws -> Void)
    /// Only from an immediate handler (`HTTPImmediateHandler`): the response comes later, without
    /// a Task. `start` runs at once on the event loop's queue and must not block; it hands the
    /// real response (`.bytes`) to `reply` once, from any thread. The status and headers around
    /// this body are not sent. A reply to a connection that closed meanwhile is dropped; nothing
    /// times the wait out, so `start` must lead to a reply.
    case deferred(@Sendable (_ reply: @escaping @Sendable (HTTPResponse) -> Void) -> Void)
}
