import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// jobctl against a real server: its exit codes are what scripts rely on.
@Suite struct JobctlTests {
    /// Runs jobctl with `arguments` against `url` and returns its exit code and stdout.
    func jobctl(_ arguments: [String], url: String) async throws -> (code: Int32?, output: String) {
        let dir = try TemporaryDirectory.make(prefix: "jobctl")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = open(dir + "/out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let child = try ChildProcess.spawn(
            argv: [try JobsdProcess.executable("jobctl")] + arguments,
            env: ["PATH": "/usr/bin:/bin", "JOBSD_URL": url], stdout: out, stderr: out)
        close(out)
        let status = await child.wait()
        return (status.exitCode, try String(contentsOfFile: dir + "/out", encoding: .utf8))
    }

    @Test func wait_ExitsWithTheJobsExitCode_124ForTimedOut_130ForCancelled_2WhenUnreachable() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let ok = try await client.submit(JobSpec(command: ["true"]))
            let three = try await client.submit(JobSpec(command: ["sh", "-c", "exit 3"]))
            let slow = try await client.submit(JobSpec(command: ["sleep", "60"], timeoutSeconds: 0.3, graceSeconds: 0))
            let cancelled = try await client.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 60"]))
            try await server.waitForOutput(cancelled.id, containing: "ready")
            _ = try await client.cancel(cancelled.id, grace: 0)
            #expect(try await jobctl(["wait", ok.id], url: server.baseURL).code == 0)
            #expect(try await jobctl(["wait", three.id], url: server.baseURL).code == 3)
            #expect(try await jobctl(["wait", slow.id], url: server.baseURL).code == 124)
            #expect(try await jobctl(["wait", cancelled.id], url: server.baseURL).code == 130)
            let missing = try await jobctl(["status", "01JDQ6W6X7Z8K9M0N1P2Q3R4S5"], url: server.baseURL)
            #expect(missing.code != 0)
            #expect(missing.output.hasPrefix("jobctl: "), "one clear line: \(missing.output)")
        }
        let down = try await jobctl(["wait", "01JDQ6W6X7Z8K9M0N1P2Q3R4S5"], url: "http://127.0.0.1:9")
        #expect(down.code == 2)
        #expect(down.output.hasPrefix("jobctl: ") && !down.output.contains("Fatal error"))
    }

    @Test func submit_PrintsTheNewID_AndSubmitWaitExitsLikeWait() async throws {
        try await TestServer.with { server in
            let submitted = try await jobctl(["submit", "--label", "team=data", "--", "sh", "-c", "echo hi"], url: server.baseURL)
            #expect(submitted.code == 0)
            let id = submitted.output.trimmingCharacters(in: .whitespacesAndNewlines)
            let job = try await server.client().wait(id)
            #expect(job.labels == ["team": "data"])
            #expect(job.command == ["sh", "-c", "echo hi"])
            #expect(try await jobctl(["submit", "--wait", "--", "sh", "-c", "exit 7"], url: server.baseURL).code == 7)
        }
    }

    @Test func submit_WithLimitFlags_SendsThemAsTheJobsLimits() async throws {
        try await TestServer.with { server in
            let submitted = try await jobctl(
                ["submit", "--wait", "--open-files", "77", "--cpu-seconds", "2m", "--", "sh", "-c", "ulimit -n; ulimit -t"], url: server.baseURL)
            #expect(submitted.code == 0)
            let id = submitted.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await server.client().logs(id).text == "77\n120\n")
            // A limit the server refuses comes back as one clear line.
            let refused = try await jobctl(["submit", "--memory", "512k", "--", "true"], url: server.baseURL)
            #expect(refused.code == 2 || refused.code == 1)
            #expect(refused.output.contains("limits.memory_bytes"), "\(refused.output)")
        }
    }

    @Test func serverOption_IsAcceptedBeforeAndAfterTheSubcommand_AndOverridesJOBSD_URL() async throws {
        try await TestServer.with { server in
            let job = try await server.client().submit(JobSpec(command: ["true"]))
            let unreachable = "http://127.0.0.1:9"
            let before = try await jobctl(["--server", server.baseURL, "status", job.id], url: unreachable)
            #expect(before.code == 0, "\(before.output)")
            #expect(before.output.contains(job.id))
            let after = try await jobctl(["status", "--server", server.baseURL, job.id], url: unreachable)
            #expect(after.code == 0, "\(after.output)")
            #expect(try await jobctl(["--server", unreachable, "status", job.id], url: server.baseURL).code == 2)
        }
    }

    @Test func submit_WithAnUnknownOptionBeforeTheSeparator_IsAUsageError_AndCreatesNoJob() async throws {
        try await TestServer.with { server in
            let typo = try await jobctl(["submit", "--prioirty", "5", "--", "true"], url: server.baseURL)
            #expect(typo.code == 2, "\(typo.output)")
            #expect(typo.output.contains("--prioirty"))
            #expect(try await server.client().listPage().jobs.isEmpty, "nothing was submitted")
            #expect(try await jobctl(["submit", "--", "sh", "-c", "exit 0"], url: server.baseURL).code == 0)
            // --help is no unknown option: it prints the help (exit 0), and submits nothing.
            for flag in ["--help", "-h"] {
                let help = try await jobctl(["submit", flag], url: server.baseURL)
                #expect(help.code == 0 && help.output.contains("OVERVIEW: Submit a job"), "\(flag): \(help.output)")
            }
            #expect(try await server.client().listPage().jobs.count == 1)
        }
    }

    @Test func submit_WithNotify_HasTheJobPostedToTheURL() async throws {
        try await WebhookReceiver.with { receiver in
            try await TestServer.with { server in
                let submitted = try await jobctl(["submit", "--notify", receiver.url, "--wait", "--", "true"], url: server.baseURL)
                #expect(submitted.code == 0)
                let request = try #require(try await receiver.waitForRequests(1).first)
                #expect(request.header("Jobsd-Event") == "job.succeeded")
                #expect(try JSONDecoder().decode(Job.self, from: Data(request.body)).command == ["true"])
            }
        }
    }

    @Test func events_PrintsTheChangesKept_FilteredByLabel() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let wanted = try await client.submit(JobSpec(command: ["true"], labels: ["team": "data"]))
            let other = try await client.submit(JobSpec(command: ["true"]))
            _ = try await client.wait(wanted.id)
            _ = try await client.wait(other.id)
            let printed = try await jobctl(["events", "--label", "team:data"], url: server.baseURL)
            #expect(printed.code == 0)
            let lines = printed.output.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
            #expect(lines.map { $0[1] } == ["job.queued", "job.running", "job.succeeded"], "\(printed.output)")
            #expect(lines.allSatisfy { $0[2] == wanted.id })
        }
    }
}
