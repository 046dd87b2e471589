import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// Job output on several nodes: it lives in PostgreSQL, so any node serves any job's output —
/// while the job runs elsewhere (`?follow=true` too), after its node stopped, capped, and until
/// the retention sweep takes it with the job. The data dirs hold none of it.
@Suite struct ClusterLogTests {
    @Test func theOutputOfAJobRunningOnOneNode_IsFollowedLiveThroughAnother_AndReadThereAfterItsNodeStopped() async throws {
        let cluster = try await Cluster.start(nodes: 2)
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        let spec = JobSpec(command: [
            "sh", "-c", "echo out1; echo err1 >&2; while [ ! -e \(scratch)/go ]; do sleep 0.05; done; echo out2; echo err2 >&2",
        ])
        let submitted = try await cluster.clients[0].submit(spec)
        let running = try await cluster.waitUntilRunning(submitted.id)
        let owner = try #require(cluster.nodeIDs.firstIndex(of: running.node ?? ""))
        let other = cluster.clients[1 - owner]

        var follow = other.followLogs(submitted.id).makeAsyncIterator()
        var seen = ""
        while !(seen.contains("out1\n") && seen.contains("err1\n")) {
            guard let chunk = try await follow.next() else { throw TestFailure("the follow ended early: \(seen)") }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        #expect(try await other.job(submitted.id).state == .running, "the output reached the other node while the job ran")
        _ = FileManager.default.createFile(atPath: "\(scratch)/go", contents: nil)
        while let chunk = try await follow.next() { seen += String(decoding: chunk, as: UTF8.self) }
        #expect(try await other.job(submitted.id).state == .succeeded, "the follow ended with the job")
        #expect(seen.split(separator: "\n").sorted() == ["err1", "err2", "out1", "out2"], "all of it, once: \(seen)")
        #expect(try await other.logs(submitted.id, stream: .stdout).text == "out1\nout2\n")
        #expect(try await other.logs(submitted.id, stream: .stderr).text == "err1\nerr2\n")

        await cluster.nodes[owner].signal(SIGTERM)
        #expect(await cluster.nodes[owner].waitForExit().exitCode == 0)
        let afterwards = try await other.logs(submitted.id)
        #expect(afterwards.text == seen, "the output outlives the node that ran the job")
        #expect(!afterwards.truncated)
        for directory in cluster.directories {
            #expect(!FileManager.default.fileExists(atPath: directory + "/logs"), "no output in the data dir \(directory)")
        }
    }

    @Test func outputPastTheCap_IsKeptNewestFirst_AndSaidTruncated_ThroughEveryNode() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ["--max-log-bytes", "1000"])
        defer { cluster.stop() }
        let submitted = try await cluster.clients[0].submit(JobSpec(command: ["seq", "1", "50000"]))
        let done = try await cluster.clients[1].wait(submitted.id)
        #expect(done.state == .succeeded)
        #expect(done.logBytes == 1000)
        let written = Array((1...50000).map { "\($0)\n" }.joined().utf8)
        for client in cluster.clients {
            let logs = try await client.logs(submitted.id)
            #expect(logs.truncated)
            #expect(logs.bytes == Array(written.suffix(1000)))
        }
    }

    @Test func theRetentionSweep_TakesAFinishedJobsOutputOutOfTheDatabase() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ["--retention", "2s"])
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        let spec = JobSpec(command: ["sh", "-c", "echo until the sweep; while [ ! -e \(scratch)/go ]; do sleep 0.05; done"])
        let submitted = try await cluster.clients[0].submit(spec)
        try await cluster.clients[1].waitForOutput(submitted.id, "until the sweep")
        // While the job runs, nothing can sweep it: its output is in the database now.
        #expect(try await TestPostgres.holds(cluster.url, "EXISTS (SELECT 1 FROM job_output)"), "the output is in the database")
        _ = FileManager.default.createFile(atPath: "\(scratch)/go", contents: nil)
        #expect(try await cluster.clients[1].wait(submitted.id).state == .succeeded)

        let deadline = ContinuousClock.now + .seconds(60)
        var status = 200
        while status == 200, ContinuousClock.now < deadline {
            status = try await cluster.clients[1].transport.send(ClientRequest(path: "/v1/jobs/\(submitted.id)/logs")).status
            if status == 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(status == 404, "the job and its output are gone")
        #expect(try await TestPostgres.holds(cluster.url, "NOT EXISTS (SELECT 1 FROM job_output)"), "no output is left behind")
    }
}
