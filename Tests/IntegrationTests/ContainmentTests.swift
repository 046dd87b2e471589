import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// Zero survivors, proven without trusting markers: every escapee runs `sleep <token>` (or a
/// renamed sleep with the token as its argument) with a cleared environment, and is found through
/// its argv in `/proc`. Each escape is tried under every way a job ends; after each, no process
/// of the job is alive and the job became terminal only after that.
///
/// Runs with the containment the machine allows (cgroup here); `scripts/test.sh` runs this suite a
/// second time with `JOBSD_TEST_CONTAINMENT=proc` (the per-job subreaper).
@Suite struct ContainmentTests {
    /// How a job's processes try to outlive it.
    enum Escape: String, CaseIterable, CustomTestStringConvertible {
        /// `env -i setsid sleep`: no marker, own session.
        case setsid
        /// double fork: the parent of the escapee exits at once, so it is re-parented.
        case doubleFork
        /// a new process group and another argv[0] (`exec -a`-style), no environment.
        case newGroupAndArgv0
        /// started by a TERM-ignoring helper only once the main process has exited.
        case afterMainExit
        /// two hundred `env -i setsid` escapees.
        case twoHundred

        var testDescription: String { rawValue }

        /// Escapees whose start the job waits for (by their evidence files) before "ready".
        var count: Int { self == .twoHundred ? 200 : 1 }

        /// Shell text that starts the escapees; each leaves `started.<pid>` in `dir` before it
        /// becomes `sleep <token>`.
        func script(token: String, dir: String) -> String {
            let escapee = "env -i setsid sh -c ': > \(dir)/started.$$; exec sleep \(token)'"
            switch self {
            case .setsid:
                return "\(escapee) & "
            case .doubleFork:
                return "( (\(escapee) &) & ); "
            case .newGroupAndArgv0:
                return #"env -i perl -e 'open(my $f, ">", "\#(dir)/started.$$"); close $f; setpgrp(0, 0); exec {"sleep"} "renamed-\#(token)", "\#(token)"' & "#
            case .afterMainExit:
                // The helper ignores SIGTERM before the job says "ready" (armed), so a stop right
                // after "ready" cannot take it before it started the escapee.
                return "(trap '' TERM; : > \(dir)/armed; while kill -0 $$ 2>/dev/null; do sleep 0.01; done; \(escapee)) & "
                    + "while [ ! -e \(dir)/armed ]; do sleep 0.01; done; "
            case .twoHundred:
                return "for i in $(seq 200); do \(escapee) & done; "
            }
        }

        /// Whether the job can wait for its escapees before it says "ready".
        var startsBeforeReady: Bool { self != .afterMainExit }
    }

    /// How the job ends.
    enum Ending: String, CaseIterable, CustomTestStringConvertible {
        case cancel, timeout, naturalExit, shutdown, kill9AndRestart
        var testDescription: String { rawValue }
    }

    static let cases: [(Escape, Ending)] = Escape.allCases.flatMap { e in Ending.allCases.map { (e, $0) } }

    @Test(arguments: cases)
    func noProcessOfTheJobSurvives_AndTheJobIsTerminalOnlyAfterwards(_ escape: Escape, _ ending: Ending) async throws {
        let token = "31\(UInt32.random(in: 1_000_000...4_000_000_000))"
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var script = escape.script(token: token, dir: dir)
        if escape.startsBeforeReady {
            script += "while [ $(ls \(dir) | grep -c started) -lt \(escape.count) ]; do sleep 0.01; done; "
        }
        script += "echo ready; "
        script += ending == .naturalExit ? "exit 0" : "exec sleep 600"
        // Long enough that every escapee starts first on a loaded machine (with 8 s, 174 of the
        // 200 had, once, in a full parallel run).
        let timeout: Double? = ending == .timeout ? (escape == .twoHundred ? 25 : 6) : nil
        let spec = JobSpec(command: ["sh", "-c", script], timeoutSeconds: timeout, graceSeconds: 2)

        let done: Job
        var log = ""
        switch ending {
        case .cancel, .timeout, .naturalExit:
            done = try await TestServer.with { server in
                let client = server.client()
                let job = try await client.submit(spec)
                if ending == .cancel {
                    try await client.waitForOutput(job.id, "ready")
                    _ = try await client.cancel(job.id)
                }
                let done = try await client.wait(job.id, timeout: 120)
                #expect(survivors(token).isEmpty, "terminal (\(done.state)) while processes of the job were alive")
                return done
            }
        case .shutdown:
            let data = try TemporaryDirectory.make(prefix: "jobsd-contain")
            defer { TemporaryDirectory.remove(data) }
            let jobsd = try await JobsdProcess.start(dataDirectory: data, arguments: ["--shutdown-timeout", "0"])
            let job = try await jobsd.client().submit(spec)
            try await jobsd.client().waitForOutput(job.id, "ready")
            await jobsd.signal(SIGTERM)
            let status = await jobsd.waitForExit()
            #expect(status.exitCode == 0, "\(jobsd.log)")
            #expect(survivors(token).isEmpty, "jobsd exited while processes of the job were alive")
            let again = try await JobsdProcess.start(dataDirectory: data)
            defer { again.child.signal(SIGKILL) }
            done = try await again.client().job(job.id)
            log = jobsd.log + again.log
            _ = await again.stop()
        case .kill9AndRestart:
            let data = try TemporaryDirectory.make(prefix: "jobsd-contain")
            defer { TemporaryDirectory.remove(data) }
            let first = try await JobsdProcess.start(dataDirectory: data)
            let job = try await first.client().submit(spec)
            try await first.client().waitForOutput(job.id, "ready")
            await first.signal(SIGKILL)
            #expect(!survivors(token).isEmpty || !escape.startsBeforeReady, "the escapees outlived jobsd's kill -9")
            let second = try await JobsdProcess.start(dataDirectory: data)
            defer { second.child.signal(SIGKILL) }
            done = try await second.client().wait(job.id, timeout: 120)
            #expect(survivors(token).isEmpty, "terminal (\(done.state)) while processes of the job were alive")
            log = first.log + second.log
            _ = await second.stop()
        }

        #expect(done.state == Self.expectedState(ending), "\(done)")
        let started = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("started.") }
        #expect(started.count == escape.count, "every escapee ran before it was stopped\n\(log)")
        #expect(survivors(token).isEmpty)
    }

    static func expectedState(_ ending: Ending) -> JobState {
        switch ending {
        case .cancel, .shutdown: .cancelled
        case .timeout: .timedOut
        case .naturalExit: .succeeded
        case .kill9AndRestart: .failed
        }
    }

    @Test func theContainmentInForce_IsReportedInMetricsAndReadyz() async throws {
        try await TestServer.with { server in
            var ready = try await server.send("GET", "/readyz")
            for _ in 0..<1000 where ready.status == 503 {
                try await Task.sleep(for: .milliseconds(10))  // polling the readiness signal itself
                ready = try await server.send("GET", "/readyz")
            }
            #expect(ready.status == 200)
            let body = try JSONSerialization.jsonObject(with: Data(ready.body)) as? [String: Any]
            let method = try #require(body?["containment"] as? String)
            #expect(["cgroup", "proc"].contains(method))
            if let forced = ProcessInfo.processInfo.environment["JOBSD_TEST_CONTAINMENT"] { #expect(method == forced) }
            let metrics = String(decoding: try await server.send("GET", "/metrics").body, as: UTF8.self)
            #expect(metrics.contains("jobsd_containment_info{method=\"\(method)\"} 1"))
        }
    }
}

/// Live processes (zombies excluded) with `token` as one of their argv words: found by what
/// they run, never by their environment.
func survivors(_ token: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> Int32? in
        guard let pid = Int32(entry), let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        guard cmdline.split(separator: 0).contains(where: { Array($0) == Array(token.utf8) }) else { return nil }
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "Z" { return nil }
        return pid
    }
}
