import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// Per-job resource limits through the real server: the kernel enforces them (cgroup controllers
/// for memory, cpu and pids; rlimits for open files and CPU seconds), an OOM kill is its own
/// outcome, and a limit the machine cannot enforce is refused, never ignored.
///
/// The cgroup tests need the memory/cpu/pids mechanisms `GET /v1/capabilities` reports; where the
/// machine has none, each of them checks instead that the server refuses that limit with a 400
/// naming it (and says so in its output) — it never passes without testing something.
@Suite struct LimitTests {
    /// The mechanism of `kind` on this server (nil: not enforceable here).
    static func mechanism(_ server: TestServer, _ kind: JobLimits.Kind) async throws -> String? {
        let body = try await server.send("GET", "/v1/capabilities").body
        let value = try JSONValue.parse(body)
        guard case let .string(m)? = value["limits"]?[kind.rawValue]?["mechanism"] else { return nil }
        return m
    }

    /// Where the machine cannot enforce `kind`: the server must refuse it by name.
    static func expectRefused(_ server: TestServer, _ kind: JobLimits.Kind, value: Double) async throws {
        print("LimitTests: \(kind.rawValue) cannot be enforced on this machine; checking that it is refused instead")
        let response = try await server.send("POST", "/v1/jobs", body: #"{"command":["true"],"limits":{"\#(kind.rawValue)":\#(value)}}"#)
        #expect(response.status == 400)
        #expect(try decodeProblem(response).field == "limits.\(kind.rawValue)")
    }

    @Test func aJobThatAllocatesPastItsMemoryLimit_FailsAsOOMKilled_AndItsTreeIsGone() async throws {
        try await TestServer.with { server in
            guard try await Self.mechanism(server, .memoryBytes) != nil else {
                return try await Self.expectRefused(server, .memoryBytes, value: 67_108_864)
            }
            let token = "32\(UInt32.random(in: 1_000_000...4_000_000_000))"
            // tail buffers /dev/zero looking for a newline that never comes: memory grows until
            // the kernel kills it; a bystander `sleep <token>` shares the job's tree.
            let spec = JobSpec(
                command: ["sh", "-c", "sleep \"$0\" & exec tail /dev/zero", token], timeoutSeconds: 120,
                limits: JobLimits(memoryBytes: 64 << 20))
            let job = try await server.submit(spec)
            #expect(job.limits == JobLimits(memoryBytes: 64 << 20), "the job shows its limits")
            let done = try await server.client().wait(job.id, timeout: 120)
            #expect(done.limits == JobLimits(memoryBytes: 64 << 20))
            #expect(done.state == .failed)
            #expect(done.signal == "SIGKILL")
            #expect(done.error == "killed by the kernel: out of memory (limit 67108864 bytes)")
            #expect(survivors(token).isEmpty)
            let events = try await server.client().events(job.id)
            let oom = events.first { $0.type == .oomKilled }
            #expect(oom?["limit_bytes"] == .number(67_108_864))
            #expect(events.last?.type == .finished)
            #expect(try await scrape(server)["jobsd_jobs_oom_killed_total"] == 1)
        }
    }

    @Test func aForkBombUnderAPidsLimit_IsContained_AndItsTreeIsGoneAfterwards() async throws {
        try await TestServer.with { server in
            guard try await Self.mechanism(server, .pids) != nil else {
                return try await Self.expectRefused(server, .pids, value: 24)
            }
            let token = "33\(UInt32.random(in: 1_000_000...4_000_000_000))"
            // A binary tree of shells, each holding a `sleep <token>`: 2^11 processes unlimited
            // (bounded, should the limit not hold). $0 is the token in every one of them.
            let bomb = #"b() { if [ "$1" -gt 0 ]; then b $(($1 - 1)) & b $(($1 - 1)) & fi; sleep "$0"; }; b 10"#
            let job = try await server.submit(JobSpec(command: ["sh", "-c", bomb, token], limits: JobLimits(pids: 24)))
            // The shells report the forks the kernel refused: the limit was reached.
            try await server.waitForOutput(job.id, containing: "fork")
            #expect(survivors(token).count <= 24)
            // The main shell may have given up itself when its own fork was refused.
            _ = try? await server.client().cancel(job.id)
            let done = try await server.client().wait(job.id, timeout: 60)
            #expect([.cancelled, .failed].contains(done.state))
            #expect(survivors(token).isEmpty)
        }
    }

    @Test func aJobOverItsCPUSeconds_IsStoppedByTheKernel() async throws {
        try await TestServer.with { server in
            #expect(try await Self.mechanism(server, .cpuSeconds) == "rlimit")
            let job = try await server.submit(JobSpec(command: ["sh", "-c", "while :; do :; done"], timeoutSeconds: 300, limits: JobLimits(cpuSeconds: 1)))
            let done = try await server.client().wait(job.id, timeout: 300)
            #expect(done.state == .failed)
            #expect(done.signal == "SIGXCPU")
            #expect(done.error == "stopped by the kernel: CPU time limit reached (cpu_seconds 1)")
            #expect(try await scrape(server)["jobsd_jobs_cpu_limit_stopped_total"] == 1)
        }
    }

    @Test func openFilesAndCPUSeconds_AreTheRlimitsOfTheJobsProcesses() async throws {
        try await TestServer.with { server in
            let job = try await server.submit(JobSpec(command: ["sh", "-c", "ulimit -n; ulimit -t"], limits: JobLimits(openFiles: 64, cpuSeconds: 30)))
            #expect(try await server.client().wait(job.id).state == .succeeded)
            #expect(try await server.client().logs(job.id).text == "64\n30\n")
        }
    }

    @Test func cpuPidsAndMemory_AreWrittenToTheJobsOwnCgroups() async throws {
        try await TestServer.with { server in
            var mechanisms: [JobLimits.Kind: String] = [:]
            for kind in [JobLimits.Kind.memoryBytes, .cpu, .pids] { mechanisms[kind] = try await Self.mechanism(server, kind) }
            guard mechanisms.count == 3 else {
                for kind in [JobLimits.Kind.memoryBytes, .cpu, .pids] where mechanisms[kind] == nil {
                    try await Self.expectRefused(server, kind, value: 67_108_864)
                }
                return
            }
            let job = try await server.submit(JobSpec(
                command: ["sh", "-c", "echo ready; exec sleep 600"], limits: JobLimits(memoryBytes: 256 << 20, cpu: 0.5, pids: 40)))
            try await server.waitForOutput(job.id, containing: "ready")
            let pid = try #require(try await server.client().job(job.id).pid)
            let files = CgroupFiles(pid: pid)
            if mechanisms[.cpu] == "cgroup_v2" {
                #expect(files.read("cpu", "cpu.max") == "50000 100000")
            } else {
                #expect(files.read("cpu", "cpu.cfs_quota_us") == "50000")
            }
            #expect(files.read("pids", "pids.max") == "40")
            #expect(files.read("memory", mechanisms[.memoryBytes] == "cgroup_v2" ? "memory.max" : "memory.limit_in_bytes") == "268435456")
            _ = try await server.client().cancel(job.id, wait: 60)
        }
    }

    @Test func limitsOverTheCaps_UnknownOrBad_AreRefusedByName() async throws {
        try await TestServer.with({ $0.limitCaps = JobLimits(openFiles: 256) }) { server in
            let cases: [(String, String)] = [
                (#"{"open_files":1000}"#, "limits.open_files"),
                (#"{"swap":1}"#, "limits.swap"),
                (#"{"pids":"ten"}"#, "limits.pids"),
                (#"{"cpu":0}"#, "limits.cpu"),
                (#"{"memory_bytes":1.5}"#, "limits.memory_bytes"),
                (#"[1]"#, "limits"),
            ]
            for (limits, field) in cases {
                let response = try await server.send("POST", "/v1/jobs", body: #"{"command":["true"],"limits":\#(limits)}"#)
                #expect(response.status == 400, "\(limits)")
                #expect(try decodeProblem(response).field == field, "\(limits)")
            }
            // No limit asked: the cap is the default.
            let job = try await server.submit(JobSpec(command: ["sh", "-c", "ulimit -n"]))
            _ = try await server.client().wait(job.id)
            #expect(try await server.client().logs(job.id).text == "256\n")
        }
    }

    @Test func withoutACgroupPerJob_CgroupLimitsAreRefused_AndCapabilitiesSayWhy() async throws {
        try await TestServer.with({ $0.engine.containment = .proc }) { server in
            for kind in [JobLimits.Kind.memoryBytes, .cpu, .pids] {
                try await Self.expectRefused(server, kind, value: 67_108_864)
                #expect(try await Self.mechanism(server, kind) == nil)
            }
            let capabilities = try JSONValue.parse(try await server.send("GET", "/v1/capabilities").body)
            guard case let .string(why)? = capabilities["limits"]?["memory_bytes"]?["unavailable"] else {
                Issue.record("no reason given: \(capabilities)")
                return
            }
            #expect(why.contains("subreaper"))
            // rlimits still work with the subreaper.
            let job = try await server.submit(JobSpec(command: ["sh", "-c", "ulimit -n"], limits: JobLimits(openFiles: 50)))
            _ = try await server.client().wait(job.id)
            #expect(try await server.client().logs(job.id).text == "50\n")
        }
    }
}

/// What a jobsd killed with SIGKILL leaves in the cgroup trees, and who removes it.
@Suite struct CgroupLeftoverTests {
    /// The directories of the job's cgroups (v2, and the memory and pids controllers' where they
    /// are v1), read from /proc.
    static func cgroupDirectories(of pid: Int32) -> [String] {
        Set(["memory", "pids", "v2 only"].compactMap { CgroupFiles(pid: pid).directory($0) }).sorted()
    }

    @Test func aRestartOnTheSameDataDirectory_RemovesTheKilledRunsCgroups_AndDeletingItRemovesTheRest() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-leftover")
        defer { TemporaryDirectory.remove(data) }
        let first = try await JobsdProcess.start(dataDirectory: data, arguments: ["--containment", "cgroup"])
        let limits = JobLimits(memoryBytes: 128 << 20, pids: 50)
        let job = try await first.client().submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 600"], limits: limits))
        try await first.client().waitForOutput(job.id, "ready")
        let pid = try #require(try await first.client().job(job.id).pid)
        let directories = Self.cgroupDirectories(of: pid)
        #expect(directories.count >= 1)
        #expect(directories.allSatisfy { $0.hasSuffix("/" + job.id) }, "\(directories)")
        let root = try #require(directories.first.map { ($0 as NSString).deletingLastPathComponent })
        await first.signal(SIGKILL)
        _ = await first.waitForExit()
        #expect(directories.allSatisfy { access($0, F_OK) == 0 }, "the killed jobsd removed its cgroups?")

        // The next jobsd on this data directory stops the job and removes its cgroups.
        let second = try await JobsdProcess.start(dataDirectory: data, arguments: ["--containment", "cgroup"])
        let done = try await second.client().wait(job.id, timeout: 120)
        #expect(done.state == .failed)
        #expect(directories.allSatisfy { access($0, F_OK) != 0 }, "\(directories.filter { access($0, F_OK) == 0 })")
        // A second job, then kill -9 again: nothing restarts on it, so deleting the data
        // directory (TemporaryDirectory.remove) kills and removes what is left, roots included.
        let next = try await second.client().submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 600"], limits: limits))
        try await second.client().waitForOutput(next.id, "ready")
        let nextPid = try #require(try await second.client().job(next.id).pid)
        let roots = Self.cgroupDirectories(of: nextPid).map { ($0 as NSString).deletingLastPathComponent }
        await second.signal(SIGKILL)
        _ = await second.waitForExit()
        JobEngine.discardCgroups(dataDirectory: data)
        #expect((roots + [root]).allSatisfy { access($0, F_OK) != 0 }, "\(roots.filter { access($0, F_OK) == 0 })")
        #expect(kill(nextPid, 0) != 0)
    }
}

/// Reads the cgroup files of a process: its cgroup in a v1 controller's hierarchy, or in the v2
/// hierarchy when that controller is not a v1 one.
struct CgroupFiles {
    let pid: Int32

    func read(_ controller: String, _ file: String) -> String? {
        directory(controller).flatMap { path in
            (try? String(contentsOfFile: path + "/" + file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// The process's cgroup directory in `controller`'s v1 hierarchy, or in the v2 one.
    func directory(_ controller: String) -> String? {
        guard let own = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8),
              let mountinfo = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        else { return nil }
        var v1Path: String?
        var v2Path: String?
        for line in own.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { continue }
            if parts[0] == "0" { v2Path = parts[2] }
            if parts[1].split(separator: ",").contains(Substring(controller)) { v1Path = parts[2] }
        }
        for line in mountinfo.split(separator: "\n") {
            guard let dash = line.range(of: " - ") else { continue }
            let after = line[dash.upperBound...].split(separator: " ").map(String.init)
            let mount = String(line[..<dash.lowerBound].split(separator: " ")[4])
            let path: String?
            if let v1Path, after.first == "cgroup", after.count > 2, after[2].split(separator: ",").contains(Substring(controller)) {
                path = mount + v1Path
            } else if v1Path == nil, let v2Path, after.first == "cgroup2" {
                path = mount + v2Path
            } else {
                path = nil
            }
            if let path { return path }
        }
        return nil
    }
}
