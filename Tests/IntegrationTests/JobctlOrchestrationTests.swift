import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// jobctl's orchestration options and `jobctl group …` against a real server.
@Suite struct JobctlOrchestrationTests {
    private func jobctl(_ arguments: [String], url: String) async throws -> (code: Int32?, output: String) {
        try await JobctlTests().jobctl(arguments, url: url)
    }

    private func id(_ output: String) -> String { output.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test func submit_SetsTheKeyLimitScheduleAndRetryPolicy() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let keyed = try await jobctl(["submit", "--key", "deploy", "--limit", "2", "--delay", "10m", "--", "true"], url: server.baseURL)
            #expect(keyed.code == 0)
            let job = try await client.job(id(keyed.output))
            #expect(job.concurrencyKey == "deploy" && job.concurrencyLimit == 2 && job.state == .queued)
            #expect(abs(job.createdAt.seconds(until: try #require(job.runAt)) - 600) < 0.01)

            let at = try await jobctl(["submit", "--at", "2031-01-02T03:04:05Z", "--retry", "3", "--backoff", "500ms", "--", "true"], url: server.baseURL)
            #expect(at.code == 0)
            let scheduled = try await client.job(id(at.output))
            #expect(scheduled.runAt == Timestamp(rfc3339: "2031-01-02T03:04:05Z"))
            #expect(scheduled.retry == RetryPolicy(maxAttempts: 3, backoffSeconds: 0.5) && scheduled.maxAttempts == 3)

            let retried = try await jobctl(["submit", "--wait", "--retry", "2", "--backoff", "0", "--", "sh", "-c", "exit 4"], url: server.baseURL)
            #expect(retried.code == 4, "submit --wait exits with the last attempt's outcome")

            for bad in [["--limit", "2"], ["--at", "2031-01-02T03:04:05Z", "--delay", "1s"], ["--backoff", "1s"], ["--at", "tomorrow"]] {
                #expect(try await jobctl(["submit"] + bad + ["--", "true"], url: server.baseURL).code == 2, "\(bad)")
            }
            let refused = try await jobctl(["submit", "--retry", "21", "--", "true"], url: server.baseURL)
            #expect(refused.code == 1 && refused.output.contains("retry"), "the server's 400 names the field: \(refused.output)")
        }
    }

    @Test func groupSubmitStatusWaitAndCancel_AndWaitExitsLikeWait() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let dir = try scratchDirectory()
            func file(_ spec: GroupSpec) throws -> String {
                let path = dir + "/\(UUID().uuidString).json"
                try spec.json.write(toFile: path, atomically: true, encoding: .utf8)
                return path
            }
            let ok = try await jobctl(["group", "submit", "--wait", try file(GroupSpec(name: "ok", jobs: [JobSpec(command: ["true"]), JobSpec(command: ["true"])]))], url: server.baseURL)
            #expect(ok.code == 0)
            #expect(ok.output.contains("succeeded (succeeded 2)"), "\(ok.output)")

            let failing = try await jobctl(["group", "submit", try file(GroupSpec(jobs: [
                JobSpec(command: ["sh", "-c", "exit 5"]), JobSpec(command: ["true"], delaySeconds: 600),
            ]))], url: server.baseURL)
            #expect(failing.code == 0)
            let failed = id(failing.output)
            #expect(try await jobctl(["group", "wait", failed], url: server.baseURL).code == 5, "a failed group exits as its failed job")
            let status = try await jobctl(["group", "status", failed], url: server.baseURL)
            #expect(status.code == 0 && status.output.contains("State:") && status.output.contains("failed 1, cancelled 1"), "\(status.output)")
            let json = try await jobctl(["group", "status", "--json", failed], url: server.baseURL)
            #expect(try JSONDecoder().decode(JobGroup.self, from: Data(json.output.utf8)).id == failed)

            let waiting = try await client.submitGroup(GroupSpec(jobs: [JobSpec(command: ["true"], delaySeconds: 600)]))
            #expect(try await jobctl(["group", "wait", "--timeout", "200ms", waiting.id], url: server.baseURL).code == 1, "still running")
            #expect(try await jobctl(["group", "cancel", "--wait", waiting.id], url: server.baseURL).code == 130)
            #expect(try await client.group(waiting.id).state == .cancelled)

            let bad = dir + "/bad.json"
            try #"{"jobs":[{"command":"true"}]}"#.write(toFile: bad, atomically: true, encoding: .utf8)
            let refused = try await jobctl(["group", "submit", bad], url: server.baseURL)
            #expect(refused.code == 2 && refused.output.hasPrefix("jobctl: "), "\(refused.output)")
            let invalid = dir + "/invalid.json"
            try #"{"jobs":[{"command":["true"]},{"command":[]}]}"#.write(toFile: invalid, atomically: true, encoding: .utf8)
            let rejected = try await jobctl(["group", "submit", invalid], url: server.baseURL)
            #expect(rejected.code == 1 && rejected.output.contains("jobs[1]: command"), "\(rejected.output)")
            #expect(try await jobctl(["group", "status", "01JDQ6W6X7Z8K9M0N1P2Q3R4S5"], url: server.baseURL).code == 1)
        }
    }

    @Test func completionScripts_AreGenerated_ForBashZshAndFish() async throws {
        for shell in ["bash", "zsh", "fish"] {
            let script = try await jobctl(["--generate-completion-script", shell], url: "http://127.0.0.1:9")
            #expect(script.code == 0)
            #expect(script.output.contains("group") && script.output.contains("retry") && script.output.contains("backoff"), "\(shell)")
        }
    }
}
