import JobsdAPI

/// A jobsd client for one load thread: one keep-alive connection, reopened after an error or a
/// `Connection: close`. Errors are thrown to the caller, which counts them; nothing is retried
/// (a retried POST could create a second job).
final class JobsClient {
    let host: String
    let port: UInt16
    private var connection: HTTPConnection?

    init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    func call(_ method: String, _ target: String, body: String? = nil) throws(LoadError) -> HTTPResponse {
        let conn: HTTPConnection
        if let connection { conn = connection } else { conn = try HTTPConnection(host: host, port: port) }
        connection = nil
        let response = try conn.request(method, target, body: body)
        if !response.closes { connection = conn }
        return response
    }

    /// `POST /v1/jobs` with `command`; the status and, for a 201, the job.
    func submit(_ command: [String], extra: String = "") throws(LoadError) -> (status: Int, job: JSONValue?) {
        var w = JSONWriter()
        w.raw("{\"command\":")
        w.stringArray(command)
        w.raw(extra)
        w.raw("}")
        let response = try call("POST", "/v1/jobs", body: w.text)
        return (response.status, response.status == 201 ? try response.json() : nil)
    }

    /// `GET /v1/jobs/{id}`, long-polling up to `wait` seconds when given.
    func job(_ id: String, wait: Int? = nil) throws(LoadError) -> JSONValue {
        let response = try call("GET", "/v1/jobs/\(id)" + (wait.map { "?wait=\($0)" } ?? ""))
        guard response.status == 200 else { throw LoadError("GET /v1/jobs/\(id)", "status \(response.status)") }
        return try response.json()
    }

    /// The CLOCK_MONOTONIC stamp (ns) a finished `spawnloop stamp` job printed as its main()
    /// began: its stdout.
    func stamp(of id: String) throws(LoadError) -> Int64 {
        let log = try call("GET", "/v1/jobs/\(id)/logs?stream=stdout")
        let text = String(decoding: log.body, as: UTF8.self).filter { $0.isNumber }
        guard log.status == 200, let stamped = Int64(text) else { throw LoadError("logs of \(id)", "status \(log.status), body \(text)") }
        return stamped
    }

    /// Long-polls until the job is terminal or `deadline` (monotonic ns) passes; returns the last state seen.
    func waitTerminal(_ id: String, deadline: Int64) throws(LoadError) -> String {
        while true {
            let state = try job(id, wait: 60)["state"]?.text ?? "?"
            if terminalStates.contains(state) || Clock.now() > deadline { return state }
        }
    }
}

let terminalStates: Set<String> = ["succeeded", "failed", "timed_out", "cancelled"]

extension HTTPResponse {
    func json() throws(LoadError) -> JSONValue {
        do { return try JSONValue.parse(body) } catch { throw LoadError("response body", "\(error)") }
    }
}

extension JSONValue {
    /// The string, or nil for other kinds.
    var text: String? {
        if case let .string(s) = self { return s }
        return nil
    }
}
