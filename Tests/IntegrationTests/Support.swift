import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting

/// Small helpers shared by the integration tests.
extension TestServer {
    /// Sends a raw request through the libcurl transport and returns status, headers and body.
    func send(_ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = []) async throws -> ClientResponse {
        try await client().transport.send(ClientRequest(method: method, path: path, headers: headers, body: body.map { Array($0.utf8) }))
    }

    /// Submits and returns the job; the job's spec is built by the caller.
    func submit(_ spec: JobSpec) async throws -> Job { try await client().submit(spec) }

    /// Follows the job's logs until `text` has appeared: the readiness signal a job gives by printing.
    func waitForOutput(_ id: String, containing text: String) async throws {
        try await client().waitForOutput(id, text)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func decodeJob(_ response: ClientResponse) throws -> Job {
    try JSONDecoder().decode(Job.self, from: Data(response.body))
}

func decodeProblem(_ response: ClientResponse) throws -> Problem {
    try JSONDecoder().decode(Problem.self, from: Data(response.body))
}

/// A fresh temporary directory for files that jobs and cleanup commands write.
func scratchDirectory() throws -> String { try TemporaryDirectory.make(prefix: "jobsd-scratch") }

/// A job's command that prints `before`, waits for `<scratch>/burst`, writes `bytes` zeros to
/// stdout, touches `<scratch>/wrote`, waits for `<scratch>/resume`, prints `after` and exits 0:
/// output written while the test holds a fault on, and the readiness signals around it.
func burstOfOutput(bytes: Int, in scratch: String) -> [String] {
    let script = """
        echo before
        while [ ! -e "$0/burst" ]; do sleep 0.02; done
        head -c \(bytes) /dev/zero
        touch "$0/wrote"
        while [ ! -e "$0/resume" ]; do sleep 0.02; done
        echo after
        """
    return ["sh", "-c", script, scratch]
}

/// True when a process whose environment carries `JOBSD_JOB_ID=<id>` is still alive (not a zombie).
func processesAlive(markedWith id: String) -> [Int32] {
    let marker = Array("JOBSD_JOB_ID=\(id)".utf8)
    var found: [Int32] = []
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for entry in entries {
        guard let pid = Int32(entry) else { continue }
        guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
        let vars = environ.split(separator: 0)
        guard vars.contains(where: { Array($0) == marker }) else { continue }
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "Z" { continue }
        found.append(pid)
    }
    return found
}

extension JobsdClient {
    /// Follows a job's output until `text` appears (the job's own readiness signal).
    func waitForOutput(_ id: String, _ text: String) async throws {
        var seen = ""
        for try await chunk in followLogs(id) {
            seen += String(decoding: chunk, as: UTF8.self)
            if seen.contains(text) { return }
        }
        throw TestFailure("job \(id) ended without printing \(text); output: \(seen)")
    }

    /// Polls `/readyz` until it answers 503 (the drain has begun); returns the last status.
    func readyzAfterDrainBegins() async throws -> Int {
        var status = 200
        for _ in 0..<1000 where status == 200 {
            status = try await transport.send(ClientRequest(path: "/readyz")).status
            if status == 200 { try await Task.sleep(for: .milliseconds(10)) }
        }
        return status
    }
}

/// Re-checks `condition` every 20 ms until it holds; throws naming `what` after `timeout` seconds.
/// For conditions the server only shows by their effects (readiness, a metric), not a fixed wait.
func eventually(_ what: String, timeout: Double = 30, _ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(timeout)
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestFailure("\(what) did not happen within \(timeout) s")
}

/// A job that exits 0 once `flag` exists: the test decides when it ends.
func jobEndingWhen(_ flag: String) -> JobSpec {
    JobSpec(command: ["sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.02; done", flag])
}
