import Foundation
import JobsdAPI
import JobsdClient
import JobsdServer
import JobsdTesting
import Testing

/// Command templates (`--templates FILE`, `--templates-only`) through the real server: a
/// parameter becomes one whole argv element and never reaches a shell; every bad parameter is a
/// 400 naming it; raw commands are refused in templates-only mode; a bad templates file refuses
/// to start.
@Suite struct TemplateTests {
    static let file = #"""
        {"templates": {
          "echo": {
            "description": "Prints its message and count",
            "command": ["printf", "%s|%s|%s\\n", "{message}", "{count}", "{loud}"],
            "params": {
              "message": {"type": "string", "pattern": "[^\\n]{1,200}"},
              "count": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
              "loud": {"type": "boolean", "default": false}
            },
            "timeout_seconds": 30,
            "limits": {"open_files": 128},
            "labels": {"kind": "echo"}
          },
          "deploy": {
            "command": ["sh", "-c", "printf 'deploying %s to %s\\n' \"$1\" \"$2\"; ulimit -n", "sh", "{version}", "{env}"],
            "params": {
              "env": {"enum": ["staging", "production"]},
              "version": {"pattern": "[0-9]+(\\.[0-9]+)*"}
            },
            "limits": {"open_files": 99}
          },
          "serial": {"command": ["echo", "serial"], "concurrency_key": "deploys"}
        }}
        """#

    /// A server with the test templates (written to a file in its data directory).
    static func withTemplates(only: Bool = false, _ body: (TestServer) async throws -> Void) async throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try file.write(toFile: dir + "/templates.json", atomically: true, encoding: .utf8)
        try await TestServer.with({
            $0.templatesPath = dir + "/templates.json"
            $0.templatesOnly = only
        }, body)
    }

    @Test func aTemplateJob_GetsItsArgvFromTheParameters_AndTheTemplatesFixedFields() async throws {
        try await Self.withTemplates { server in
            let client = server.client()
            let job = try await client.submit(TemplateRequest(template: "echo", params: ["message": .string("hi there"), "count": .number(3)], name: "greet"))
            #expect(job.command == ["printf", "%s|%s|%s\\n", "hi there", "3", "false"])
            #expect(job.timeoutSeconds == 30)
            #expect(job.name == "greet")
            #expect(job.labels == ["kind": "echo"])
            _ = try await client.wait(job.id)
            #expect(try await client.logs(job.id).text == "hi there|3|false\n")
            let deploy = try await client.submit(TemplateRequest(template: "deploy", params: ["env": .string("staging"), "version": .string("1.2.3")]))
            #expect(try await client.wait(deploy.id).state == .succeeded)
            #expect(try await client.logs(deploy.id).text == "deploying 1.2.3 to staging\n99\n")
        }
    }

    @Test func nothingInAParameter_ReachesAShell() async throws {
        try await Self.withTemplates { server in
            let evidence = try scratchDirectory()
            defer { try? FileManager.default.removeItem(atPath: evidence) }
            let hostile = "$(touch \(evidence)/a) `touch \(evidence)/b`; touch \(evidence)/c && echo ${HOME} | cat > \(evidence)/d '\" *"
            let job = try await server.client().submit(TemplateRequest(template: "echo", params: ["message": .string(hostile)]))
            #expect(job.command[2] == hostile, "one whole argv element")
            _ = try await server.client().wait(job.id)
            #expect(try await server.client().logs(job.id).text == hostile + "|1|false\n")
            #expect(try FileManager.default.contentsOfDirectory(atPath: evidence).isEmpty)
        }
    }

    @Test func everyBadParameter_IsA400NamingIt() async throws {
        try await Self.withTemplates { server in
            let cases: [(String, String)] = [
                (#"{"template":"echo","params":{}}"#, "params.message"),
                (#"{"template":"echo","params":{"message":"x","extra":1}}"#, "params.extra"),
                (#"{"template":"echo","params":{"message":"two\nlines"}}"#, "params.message"),
                (#"{"template":"echo","params":{"message":7}}"#, "params.message"),
                (#"{"template":"echo","params":{"message":"x","count":6}}"#, "params.count"),
                (#"{"template":"echo","params":{"message":"x","count":1.5}}"#, "params.count"),
                (#"{"template":"echo","params":{"message":"x","count":"2"}}"#, "params.count"),
                (#"{"template":"echo","params":{"message":"x","loud":"yes"}}"#, "params.loud"),
                (#"{"template":"deploy","params":{"env":"prod","version":"1"}}"#, "params.env"),
                (#"{"template":"deploy","params":{"env":"staging","version":"1; rm -rf /"}}"#, "params.version"),
                (#"{"template":"echo","params":[1]}"#, "params"),
                (#"{"template":"nope"}"#, "template"),
                (#"{"template":"echo","params":{"message":"x"},"command":["true"]}"#, "command"),
                (#"{"template":"echo","params":{"message":"x"},"limits":{"open_files":1000}}"#, "limits.open_files"),
            ]
            for (body, field) in cases {
                let response = try await server.send("POST", "/v1/jobs", body: body)
                #expect(response.status == 400, "\(body)")
                #expect(try decodeProblem(response).field == field, "\(body)")
            }
        }
    }

    @Test func templatesOnly_RefusesRawCommandsWith403_AndListsTheTemplates() async throws {
        try await Self.withTemplates(only: true) { server in
            let raw = try await server.send("POST", "/v1/jobs", body: #"{"command":["true"]}"#)
            #expect(raw.status == 403)
            #expect(try decodeProblem(raw).detail.contains("--templates-only"))
            let job = try await server.client().submit(TemplateRequest(template: "echo", params: ["message": .string("ok")]))
            #expect(try await server.client().wait(job.id).state == .succeeded)
            let list = try await server.client().templates()
            guard case let .array(templates)? = list["templates"] else {
                Issue.record("no templates array: \(list)")
                return
            }
            #expect(templates.compactMap { $0["name"] } == [.string("echo"), .string("deploy"), .string("serial")])
            #expect(templates.last?["concurrency_key"] == .string("deploys"))
            #expect(list["templates_only"] == .bool(true))
            #expect(templates.first?["params"]?["count"]?["default"] == .number(1))
            #expect(templates.first?["params"]?["message"]?["required"] == .bool(true))
        }
    }

    @Test func aTemplateJob_TakesTheRequestsOrchestrationFields_UnlessTheTemplateSetsThem() async throws {
        try await Self.withTemplates(only: true) { server in
            let body = #"{"template":"echo","params":{"message":"k"},"concurrency_key":"mine","concurrency_limit":2,"retry":{"max_attempts":3},"delay_seconds":0.05}"#
            let response = try await server.send("POST", "/v1/jobs", body: body)
            #expect(response.status == 201, "\(String(decoding: response.body, as: UTF8.self))")
            let job = try JSONDecoder().decode(Job.self, from: Data(response.body))
            #expect(job.concurrencyKey == "mine" && job.concurrencyLimit == 2 && job.maxAttempts == 3 && job.runAt != nil)
            #expect(job.limits == JobLimits(openFiles: 128), "the template's limits show in the job")
            #expect(try await server.client().wait(job.id).state == .succeeded)
            #expect(try await server.client().logs(job.id).text == "k|1|false\n")

            // The template's key is fixed, and so is its limit.
            let serial = try await server.send("POST", "/v1/jobs", body: #"{"template":"serial"}"#)
            #expect(try JSONDecoder().decode(Job.self, from: Data(serial.body)).concurrencyKey == "deploys")
            for field in ["concurrency_key", "concurrency_limit"] {
                let value = field == "concurrency_key" ? #""other""# : "5"
                let refused = try await server.send("POST", "/v1/jobs", body: #"{"template":"serial","\#(field)":\#(value)}"#)
                #expect(refused.status == 400)
                #expect(try decodeProblem(refused).field == field)
            }
            // A group's jobs run templates too; a raw command there is refused like anywhere else.
            let group = try await server.send("POST", "/v1/groups", body: #"{"jobs":[{"template":"echo","params":{"message":"g"}},{"template":"serial"}]}"#)
            #expect(group.status == 201, "\(String(decoding: group.body, as: UTF8.self))")
            let raw = try await server.send("POST", "/v1/groups", body: #"{"jobs":[{"template":"serial"},{"command":["true"]}]}"#)
            #expect(raw.status == 403)
        }
    }

    @Test func jobctl_SubmitsATemplate_WithTypedParams() async throws {
        try await Self.withTemplates { server in
            let submitted = try await JobctlTests().jobctl(
                ["submit", "--wait", "--template", "echo", "--param", "message=from jobctl", "--param", "count=2", "--param", "loud=true"],
                url: server.baseURL)
            #expect(submitted.code == 0, "\(submitted.output)")
            let jobs = try await server.client().listPage(limit: 1).jobs
            #expect(jobs.first?.command == ["printf", "%s|%s|%s\\n", "from jobctl", "2", "true"])
            let bad = try await JobctlTests().jobctl(["submit", "--template", "deploy", "--param", "env=nowhere", "--param", "version=1"], url: server.baseURL)
            #expect(bad.code != 0)
            #expect(bad.output.contains("params.env"), "\(bad.output)")
        }
    }

    @Test func jobctl_SubmitsATemplate_WithItsOrchestrationOptions_AndRefusesOptionsTheTemplateFixes() async throws {
        try await Self.withTemplates { server in
            let submitted = try await JobctlTests().jobctl(
                ["submit", "--template", "echo", "--param", "message=m", "--key", "mine", "--limit", "2", "--delay", "10m",
                 "--retry", "3", "--backoff", "500ms", "--priority", "7"],
                url: server.baseURL)
            #expect(submitted.code == 0, "\(submitted.output)")
            let job = try await server.client().job(submitted.output.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(job.concurrencyKey == "mine" && job.concurrencyLimit == 2 && job.priority == 7 && job.state == .queued)
            #expect(job.retry == RetryPolicy(maxAttempts: 3, backoffSeconds: 0.5))
            #expect(abs(job.createdAt.seconds(until: try #require(job.runAt)) - 600) < 0.01)
            let at = try await JobctlTests().jobctl(
                ["submit", "--template", "echo", "--param", "message=m", "--at", "2031-01-02T03:04:05Z"], url: server.baseURL)
            #expect(at.code == 0, "\(at.output)")
            let scheduled = try await server.client().job(at.output.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(scheduled.runAt == Timestamp(rfc3339: "2031-01-02T03:04:05Z"))

            // What the template fixes is a usage error, before anything is sent.
            let before = try await server.client().listPage(limit: 100).jobs.count
            for (option, value) in [("--timeout", "5s"), ("--env", "A=1"), ("--user", "nobody"), ("--notify", "http://x/")] {
                let refused = try await JobctlTests().jobctl(
                    ["submit", "--template", "echo", "--param", "message=m", option, value], url: server.baseURL)
                #expect(refused.code == 2, "\(option): \(refused.output)")
                #expect(refused.output.contains("\(option) cannot be used with --template"), "\(refused.output)")
            }
            let limitAlone = try await JobctlTests().jobctl(["submit", "--template", "echo", "--limit", "2"], url: server.baseURL)
            #expect(limitAlone.code == 2 && limitAlone.output.contains("--limit needs --key"), "\(limitAlone.output)")
            #expect(try await server.client().listPage(limit: 100).jobs.count == before)
        }
    }

    @Test func aTemplateRequest_MayLowerTheTemplatesLimits_OrAddOnesItLeavesOpen_ButNeverRaiseThem() async throws {
        try await Self.withTemplates { server in
            let client = server.client()
            let params: [String: JSONValue] = ["env": .string("staging"), "version": .string("2")]
            // deploy sets open_files 99: 50 is taken (its `ulimit -n` says so), cpu_seconds is added.
            let lowered = try await client.submit(TemplateRequest(template: "deploy", params: params, limits: JobLimits(openFiles: 50, cpuSeconds: 30)))
            #expect(lowered.limits?.openFiles == 50 && lowered.limits?.cpuSeconds == 30)
            #expect(try await client.wait(lowered.id).state == .succeeded)
            #expect(try await client.logs(lowered.id).text == "deploying 2 to staging\n50\n")

            let before = try await client.listPage(limit: 100).jobs.count
            for (limits, field) in [(JobLimits(openFiles: 100), "limits.open_files"), (JobLimits(cpuSeconds: 0), "limits.cpu_seconds")] {
                let response = try await server.send("POST", "/v1/jobs", body: TemplateRequest(template: "deploy", params: params, limits: limits).json)
                #expect(response.status == 400, "\(field)")
                #expect(try decodeProblem(response).field == field)
            }
            #expect(try await client.listPage(limit: 100).jobs.count == before)

            // The issue's jobctl line: template, parameters, priority, memory and CPU limits.
            let submitted = try await JobctlTests().jobctl(
                ["submit", "--template", "deploy", "--param", "env=production", "--param", "version=3", "--priority", "5",
                 "--memory", "512M", "--cpu", "0.5"],
                url: server.baseURL)
            #expect(submitted.code == 0, "\(submitted.output)")
            let job = try await client.job(submitted.output.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(job.priority == 5 && job.limits?.memoryBytes == 512 << 20 && job.limits?.cpu == 0.5 && job.limits?.openFiles == 99)
            #expect(try await client.wait(job.id).state == .succeeded)
        }
    }

    @Test func aTemplatesFileThatCouldLetAParameterReachAShell_OrIsBroken_RefusesToStart() async throws {
        let broken: [(String, String)] = [
            (#"{"templates":{"t":{"command":["sh","-c","{script}"],"params":{"script":{}}}}}"#, "script of sh -c"),
            (#"{"templates":{"t":{"command":["echo","--name={n}"],"params":{"n":{}}}}}"#, "whole argv element"),
            (#"{"templates":{"t":{"command":["{prog}"],"params":{"prog":{}}}}}"#, "the program cannot be a parameter"),
            (#"{"templates":{"t":{"command":["echo","{x}"]}}}"#, "not a declared parameter"),
            (#"{"templates":{"t":{"command":["echo"],"params":{"x":{}}}}}"#, "not used in command"),
            (#"{"templates":{"t":{"command":["echo","{x}"],"params":{"x":{"type":"integer","default":"a"}}}}}"#, "default"),
            (#"{"templates":{"t":{"command":["echo","{x}"],"params":{"x":{"pattern":"("}}}}}"#, "regular expression"),
            (#"{"templates":{"t":{"command":["echo"],"timeout_seconds":-1}}}"#, "timeout_seconds"),
            (#"{"templates":[]}"#, "must be a JSON object"),
        ]
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (text, expected) in broken {
            try text.write(toFile: dir + "/t.json", atomically: true, encoding: .utf8)
            do {
                try await TestServer.with({ $0.templatesPath = dir + "/t.json" }) { _ in Issue.record("started with \(text)") }
            } catch {
                #expect("\(error)".contains(expected), "\(text): \(error)")
            }
        }
        do {
            try await TestServer.with({ $0.templatesOnly = true }) { _ in Issue.record("--templates-only started without templates") }
        } catch {
            #expect("\(error)".contains("--templates-only needs --templates"))
        }
    }
}
