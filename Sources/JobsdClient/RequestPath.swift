/// Builds the paths and query strings of the v1 API, percent-encoding what callers pass in.
enum RequestPath {
    static func jobs(query: [(String, String)] = []) -> String { "/v1/jobs" + encode(query) }

    static func job(_ id: String, query: [(String, String)] = []) -> String {
        "/v1/jobs/" + escape(id, allowing: unreserved) + encode(query)
    }

    static func logs(_ id: String, query: [(String, String)] = []) -> String {
        "/v1/jobs/" + escape(id, allowing: unreserved) + "/logs" + encode(query)
    }

    static func changes(query: [(String, String)]) -> String { "/v1/events" + encode(query) }

    static func events(_ id: String) -> String { "/v1/jobs/" + escape(id, allowing: unreserved) + "/events" }
    static func groups(query: [(String, String)] = []) -> String { "/v1/groups" + encode(query) }

    static func group(_ id: String, query: [(String, String)] = []) -> String {
        "/v1/groups/" + escape(id, allowing: unreserved) + encode(query)
    }

    /// Seconds for a query parameter: `5` rather than `5.0`, `0.25` kept as is.
    static func seconds(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    // MARK: - Percent-encoding (RFC 3986 §2)

    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
    /// Query values may keep `:` and `/` (label filters are `key:value`); `&=+#` and the rest are encoded.
    private static let queryValue = unreserved.union(":/@!$'()*,;".utf8)

    private static func encode(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        return "?" + query.map { escape($0.0, allowing: queryValue) + "=" + escape($0.1, allowing: queryValue) }.joined(separator: "&")
    }

    private static func escape(_ text: String, allowing allowed: Set<UInt8>) -> String {
        var out = ""
        for byte in text.utf8 {
            if allowed.contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}

extension RequestPath {
    static func schedules() -> String { "/v1/schedules" }

    /// `/v1/schedules/{id}`, or one of its actions (`pause`, `resume`).
    static func schedule(_ id: String, action: String? = nil) -> String {
        "/v1/schedules/" + escape(id, allowing: unreserved) + (action.map { "/" + $0 } ?? "")
    }
}
