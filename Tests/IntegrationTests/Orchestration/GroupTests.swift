import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// `/v1/groups` (CONTRACT.md, "Orchestration: Groups").
@Suite struct GroupTests {
    @Test func aGroup_IsCreatedWithAllItsJobs_AndSucceedsWhenAllOfThemDo() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let response = try await server.send("POST", "/v1/groups", body: GroupSpec(
                name: "etl", labels: ["team": "data"], jobs: [JobSpec(command: ["true"]), JobSpec(command: ["true"]), JobSpec(command: ["true"])]).json)
            #expect(response.status == 201)
            #expect(response.header("Location")?.hasPrefix("/v1/groups/") == true)
            let group = try JSONDecoder().decode(JobGroup.self, from: Data(response.body))
            #expect(group.name == "etl" && group.labels == ["team": "data"] && group.failFast && group.jobs.count == 3)
            #expect(group.state == .running && group.finishedAt == nil)
            for id in group.jobs { #expect(try await client.job(id).groupID == group.id) }
            let done = try await client.waitGroup(group.id, timeout: 30)
            #expect(done.state == .succeeded && done.finishedAt != nil)
            #expect(done.counts[.succeeded] == 3 && done.counts[.failed] == 0 && done.counts[.queued] == 0)
            #expect(try await client.submit(JobSpec(command: ["true"])).groupID == nil)
        }
    }

    @Test func aGroupWithOneInvalidJob_CreatesNothing_AndNamesTheField() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let bad = try await server.send("POST", "/v1/groups", body: #"{"jobs":[{"command":["true"]},{"command":[]}]}"#)
            #expect(bad.status == 400)
            #expect(try decodeProblem(bad).field == "jobs[1].command")
            #expect(try await server.send("POST", "/v1/groups", body: #"{"jobs":[]}"#).status == 400)
            let tooMany = "{\"jobs\":[" + Array(repeating: #"{"command":["true"]}"#, count: 1001).joined(separator: ",") + "]}"
            #expect(try await server.send("POST", "/v1/groups", body: tooMany).status == 400)
            #expect(try await server.send("POST", "/v1/groups", body: #"{"jobs":[{"command":["true"]}],"fail_fast":"yes"}"#).status == 400)
            #expect(try await client.listGroups().groups.isEmpty)
            #expect(try await client.listPage().jobs.isEmpty, "no job of the refused group exists")
        }
    }

    @Test func failFast_TheFirstFailureCancelsEveryOtherJob_NamingTheFailedOne() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let group = try await client.submitGroup(GroupSpec(jobs: [
                JobSpec(command: ["sh", "-c", "echo ready; exec sleep 300"], cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE > \(scratch)/cleanup"])),
                JobSpec(command: ["true"], delaySeconds: 600),
                JobSpec(command: ["sh", "-c", "while [ ! -e \(scratch)/fail ]; do sleep 0.02; done; exit 1"]),
            ]))
            let (running, scheduled, failing) = (group.jobs[0], group.jobs[1], group.jobs[2])
            try await client.waitForOutput(running, "ready")
            touch(scratch + "/fail")
            let done = try await client.waitGroup(group.id, timeout: 30)
            #expect(done.state == .failed)
            #expect(done.counts[.failed] == 1 && done.counts[.cancelled] == 2)
            #expect(try await client.job(failing).state == .failed)
            for id in [running, scheduled] {
                let job = try await client.job(id)
                #expect(job.state == .cancelled)
                #expect(job.error == "cancelled: job \(failing) of its group failed")
            }
            #expect(lines(scratch + "/cleanup") == ["cancelled"], "the running sibling was stopped and cleaned up")
        }
    }

    @Test func failFast_ATimeoutCountsAsAFailure() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let group = try await client.submitGroup(GroupSpec(jobs: [
                JobSpec(command: ["true"], delaySeconds: 600), JobSpec(command: ["sleep", "30"], timeoutSeconds: 0.2, graceSeconds: 0),
            ]))
            let done = try await client.waitGroup(group.id, timeout: 30)
            #expect(done.state == .failed)
            #expect(try await client.job(group.jobs[0]).error == "cancelled: job \(group.jobs[1]) of its group failed")
        }
    }

    @Test func failFast_WaitsUntilTheFailingJobHasNoRetryLeft() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let group = try await client.submitGroup(GroupSpec(jobs: [
                JobSpec(command: Scripts.countedRun(scratch + "/n", succeedOn: 2), retry: RetryPolicy(maxAttempts: 2, backoffSeconds: 0)),
                JobSpec(command: ["sh", "-c", "while [ ! -e \(scratch)/n ]; do sleep 0.02; done; sleep 0.3"]),
            ]))
            let done = try await client.waitGroup(group.id, timeout: 30)
            #expect(done.state == .succeeded, "the failed first attempt was retried, not the end of the job")
        }
    }

    @Test func withoutFailFast_AFailureCancelsNothing_AndTheGroupEndsFailed() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let group = try await client.submitGroup(GroupSpec(failFast: false, jobs: [
                JobSpec(command: ["false"]), JobSpec(command: ["sh", "-c", "while [ ! -e \(scratch)/go ]; do sleep 0.02; done"]),
            ]))
            #expect(try await client.wait(group.jobs[0], timeout: 30).state == .failed)
            #expect(try await client.group(group.id).state == .running)
            touch(scratch + "/go")
            let done = try await client.waitGroup(group.id, timeout: 30)
            #expect(done.state == .failed && done.counts[.succeeded] == 1 && done.counts[.failed] == 1)
        }
    }

    @Test func deletingAGroup_CancelsEveryJobNotYetTerminal_202_Then200() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let group = try await client.submitGroup(GroupSpec(jobs: [
                JobSpec(command: ["true"]), JobSpec(command: ["sh", "-c", "echo ready; exec sleep 300"]), JobSpec(command: ["true"], delaySeconds: 600),
            ]))
            #expect(try await client.wait(group.jobs[0], timeout: 30).state == .succeeded)
            try await client.waitForOutput(group.jobs[1], "ready")
            let first = try await server.send("DELETE", "/v1/groups/\(group.id)")
            #expect(first.status == 202)
            let waited = try await server.send("DELETE", "/v1/groups/\(group.id)?wait=30")
            #expect(waited.status == 200)
            let done = try JSONDecoder().decode(JobGroup.self, from: Data(waited.body))
            #expect(done.state == .cancelled)
            #expect(done.counts[.succeeded] == 1 && done.counts[.cancelled] == 2)
            #expect(try await client.job(group.jobs[1]).state == .cancelled)
            #expect(try await client.job(group.jobs[2]).error == nil, "a DELETE of the group is no failure of a sibling")
            #expect(try await server.send("DELETE", "/v1/groups/\(group.id)").status == 200)
            #expect(try await server.send("DELETE", "/v1/groups/01M00000000000000000000000").status == 404)
            #expect(try await server.send("GET", "/v1/groups/01M00000000000000000000000").status == 404)
        }
    }

    @Test func groups_AreListedNewestFirst_InPages() async throws {
        try await TestServer.with { server in
            let client = server.client()
            var ids: [String] = []
            for _ in 0..<3 { ids.append(try await client.submitGroup(GroupSpec(jobs: [JobSpec(command: ["true"])])).id) }
            let first = try await client.listGroups(limit: 2)
            #expect(first.groups.map(\.id) == [ids[2], ids[1]])
            let second = try await client.listGroups(limit: 2, cursor: try #require(first.nextCursor))
            #expect(second.groups.map(\.id) == [ids[0]] && second.nextCursor == nil)
            let raw = try await server.send("GET", "/v1/groups?limit=5000")
            #expect(raw.status == 400)
        }
    }
}
