import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// Issue #22: file descriptors run out. A real jobsd started under `prlimit --nofile=N` (a hard
/// limit it cannot raise), flooded with real idle TCP connections.
@Suite struct DescriptorFaultTests {
    /// jobsd with a hard descriptor limit of `limit` and 4 running jobs at most; idle connections
    /// are not closed for lack of a request while the test runs.
    private static func start(limit: Int, arguments: [String] = []) async throws -> (JobsdProcess, String) {
        let dir = try TemporaryDirectory.make(prefix: "jobsd-fds")
        let jobsd = try await JobsdProcess.start(
            dataDirectory: dir + "/data", arguments: ["--max-running", "4", "--header-timeout", "300", "--idle-timeout", "300"] + arguments,
            launcher: ["prlimit", "--nofile=\(limit):\(limit)", "--"])
        return (jobsd, dir)
    }

    /// A connection that has been accepted and answered once, so it is admitted and kept open.
    private static func admittedConnection(_ jobsd: JobsdProcess) throws -> BlockingConnection {
        let connection = try BlockingConnection(port: jobsd.port)
        try connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let answer = try connection.readResponse()
        guard answer.status == 200 else { throw TestFailure("GET /healthz answered \(answer.status)") }
        return connection
    }

    @Test func withFewDescriptors_ConnectionsPastTheDerivedLimitGet503_AndJobsStillStart() async throws {
        let (jobsd, dir) = try await Self.start(limit: 256)
        defer { jobsd.child.signal(SIGKILL); try? FileManager.default.removeItem(atPath: dir) }
        // The README's rule: 256 - 64 - 8 x 4 (max-running) = 160 connections.
        #expect(jobsd.log.contains("max_connections=160"), "the default derived from RLIMIT_NOFILE; log:\n\(jobsd.log)")

        let control = try Self.admittedConnection(jobsd)
        let flood = try (0..<250).map { _ in try BlockingConnection(port: jobsd.port) }
        // 1 + 250 connections, 160 admitted: 91 are answered 503 and closed instead of waiting
        // in the kernel's backlog for a descriptor that never comes.
        try await eventually("the connections past the limit being answered") {
            flood.filter { $0.waitReadable(milliseconds: 0) }.count >= 91
        }
        let answered = flood.filter { $0.waitReadable(milliseconds: 0) }
        #expect(answered.count == 91)
        for connection in answered {
            let response = try connection.readResponse()
            #expect(response.status == 503)
            #expect(response.header("Retry-After") != nil)
        }

        // With 160 connections held, jobs still get the descriptors they need.
        let body = #"{"command":["sh","-c","echo started"]}"#
        try control.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let created = try control.readResponse()
        #expect(created.status == 201)
        let job = try JSONDecoder().decode(Job.self, from: Data(created.body))
        try control.send("GET /v1/jobs/\(job.id)?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n")
        let done = try JSONDecoder().decode(Job.self, from: Data(try control.readResponse().body))
        #expect(done.state == .succeeded)
        #expect(done.exitCode == 0)
    }

    @Test func aJobStartedWithNoDescriptorLeft_FailsNamingTheCause_AndTheServerServesOn() async throws {
        // --max-connections set past the limit: the connections can take every descriptor.
        let (jobsd, dir) = try await Self.start(limit: 128, arguments: ["--max-connections", "10000"])
        defer { jobsd.child.signal(SIGKILL); try? FileManager.default.removeItem(atPath: dir) }
        let control = try Self.admittedConnection(jobsd)
        var flood = try (0..<200).map { _ in try BlockingConnection(port: jobsd.port) }
        try await eventually("jobsd holding every descriptor it may") { openDescriptors(jobsd.child.pid) >= 128 }

        let body = #"{"command":["true"]}"#
        try control.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let created = try control.readResponse()
        #expect(created.status == 201)
        let job = try JSONDecoder().decode(Job.self, from: Data(created.body))
        try await eventually("the spawn failing") { jobsd.log.contains("job could not start") && jobsd.log.contains(job.id) }

        flood.removeAll()  // closes them: descriptors come back
        let client = jobsd.client()
        let failed = try await client.wait(job.id, timeout: 30)
        #expect(failed.state == .failed)
        #expect(failed.error?.contains("Too many open files") == true, "error: \(failed.error ?? "nil")")
        #expect(failed.pid == nil)
        #expect(processesAlive(markedWith: job.id).isEmpty)
        let events = try await client.events(job.id).map(\.type)
        #expect(events.contains(.spawnFailed))

        // Nothing of it stays behind, and the server serves on: the next job runs.
        #expect(!FileManager.default.fileExists(atPath: jobsd.dataDirectory + "/work/" + job.id))
        let next = try await client.submit(JobSpec(command: ["true"]))
        #expect(try await client.wait(next.id, timeout: 30).state == .succeeded)
    }
}

/// The descriptors process `pid` holds now.
private func openDescriptors(_ pid: pid_t) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
}
