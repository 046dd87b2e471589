import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// Orchestration with several nodes on one PostgreSQL database: keys hold cluster-wide, retries
/// and scheduled starts wait in the store for any node, groups finish and fail fast whichever
/// nodes run their jobs (CONTRACT.md, "Orchestration" and "Several nodes on PostgreSQL").
@Suite struct ClusterOrchestrationTests {
    @Test func aConcurrencyKey_HoldsAcrossNodes_AndItsJobsStartInSubmissionOrder() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ["--max-running", "3"])
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        var ids: [String] = []
        for n in 0..<4 {
            let spec = JobSpec(
                command: ["sh", "-c", "echo $JOBSD_JOB_ID >> \(scratch)/started; while [ ! -e \(scratch)/go-$JOBSD_JOB_ID ]; do sleep 0.02; done"],
                concurrencyKey: "deploy")
            ids.append(try await cluster.clients[n % 2].submit(spec).id)
        }
        let free = try await cluster.clients[1].submit(JobSpec(command: ["true"], concurrencyKey: "other"))
        #expect(try await cluster.clients[0].wait(free.id, timeout: 60).state == .succeeded, "another key is not held up")
        for (n, id) in ids.enumerated() {
            _ = try await cluster.waitUntilRunning(id)
            for later in ids[(n + 1)...] {
                #expect(try await cluster.clients[1].job(later).state == .queued, "at most one of the key runs, on any node")
            }
            touch(scratch + "/go-\(id)")
            #expect(try await cluster.clients[(n + 1) % 2].wait(id, timeout: 60).state == .succeeded)
        }
        #expect(lines(scratch + "/started") == ids, "submission order across nodes")
    }

    @Test func aKeysLimit_IsNeverExceededAcrossThreeNodes() async throws {
        // Room for 3 x 3 at once, and twelve jobs of a key with limit 2 posted to all nodes:
        // each job appends `+` when it starts and `-` before it exits, inside the time the key
        // counts it running. The first job stays until a second one started (or 10 s passed), so
        // "the limit was reached" does not depend on how fast a loaded machine claims.
        let cluster = try await Cluster.start(nodes: 3, arguments: ["--max-running", "3"])
        defer { cluster.stop() }
        let log = try scratchDirectory() + "/running"
        var ids: [String] = []
        for n in 0..<12 {
            let script = "echo + >> \(log); i=0; while [ $(grep -c + \(log)) -lt 2 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; "
                + "sleep 0.1; echo - >> \(log)"
            let spec = JobSpec(command: ["sh", "-c", script], concurrencyKey: "k", concurrencyLimit: 2)
            ids.append(try await cluster.clients[n % 3].submit(spec).id)
        }
        var nodes = Set<String>()
        for id in ids {
            let job = try await cluster.clients[0].wait(id, timeout: 120)
            #expect(job.state == .succeeded)
            nodes.insert(job.node ?? "")
        }
        var running = 0, most = 0
        for line in lines(log) {
            running += line == "+" ? 1 : -1
            most = max(most, running)
        }
        #expect(most == 2, "at most the limit ran at once, on all nodes together (and the limit was reached)")
        #expect(nodes.count >= 2, "the key's jobs ran on several nodes: \(nodes)")
    }

    @Test func aQueueOfTwoThousandJobsOnABusyKey_DelaysNoJobWithAnotherKeyOnAnyNode() async throws {
        // 2 000, not the 10 000 of the single-node test: a PostgreSQL group insert costs about
        // 5 round trips per job, so 10 000 would take minutes of the suite (BENCHMARKS.md).
        let cluster = try await Cluster.start(nodes: 2)
        defer { cluster.stop() }
        try await checkADeepQueueOnOneKeyDelaysNoOtherKey(cluster.clients, thousands: 2)
    }

    @Test func aRetriedJob_WaitsInTheStoreBetweenAttempts_AndItsTimelineHasNoGap() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ["--max-running", "2"])
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        let job = try await cluster.clients[0].submit(JobSpec(
            command: Scripts.countedRun(scratch + "/n", succeedOn: 3), retry: RetryPolicy(maxAttempts: 3, backoffSeconds: 0.1)))
        let done = try await cluster.clients[1].wait(job.id, timeout: 60)
        #expect(done.state == .succeeded && done.attempt == 3 && done.attempts.map(\.state) == [.failed, .failed, .succeeded])
        let events = try await cluster.clients[1].events(job.id)
        #expect(events.map(\.seq) == Array(1...events.count), "the claiming node numbers after the stored events")
        #expect(events.map(\.type.rawValue) == [
            "submitted", "started", "exited", "retry_scheduled", "scheduled", "started", "exited", "retry_scheduled", "scheduled",
            "started", "exited", "finished",
        ])
        #expect(events.filter { $0.type == .started }.map { $0["attempt"]?.canonicalText } == ["1", "2", "3"])
        let nodes = cluster.nodeIDs.map { #""\#($0)""# }
        #expect(events.filter { $0.type == .started }.allSatisfy { nodes.contains($0["node"]?.canonicalText ?? "") }, "started names the node")
    }

    @Test func aScheduledJob_IsClaimedOnlyOnceItsTimeHasCome() async throws {
        let cluster = try await Cluster.start(nodes: 2)
        defer { cluster.stop() }
        let job = try await cluster.clients[0].submit(JobSpec(command: ["true"], delaySeconds: 1))
        let runAt = try #require(job.runAt)
        let done = try await cluster.clients[1].wait(job.id, timeout: 60)
        #expect(done.state == .succeeded)
        #expect(try #require(done.startedAt) >= runAt)
        #expect(try await cluster.clients[1].events(job.id).map(\.type.rawValue).prefix(3) == ["submitted", "scheduled", "started"])
    }

    @Test func aGroupWhoseJobsRunOnSeveralNodes_Finishes_AndFailsFastAcrossThem() async throws {
        // One slot per node: three running jobs are on three nodes, so the failing job and at
        // least one sibling are on nodes that do not hold the group.
        let cluster = try await Cluster.start(nodes: 3, arguments: ["--max-running", "1"])
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        let ok = try await cluster.clients[0].submitGroup(GroupSpec(jobs: (0..<4).map { _ in JobSpec(command: ["sleep", "0.5"]) }))
        let finished = try await cluster.clients[1].waitGroup(ok.id, timeout: 60)
        #expect(finished.state == .succeeded && finished.counts[.succeeded] == 4)
        var nodes = Set<String>()
        for id in ok.jobs { nodes.insert(try await cluster.clients[1].job(id).node ?? "") }
        #expect(nodes.count >= 2, "the jobs ran on several nodes: \(nodes)")

        let failing = try await cluster.clients[0].submitGroup(GroupSpec(jobs: [
            JobSpec(command: ["sleep", "300"]),
            JobSpec(command: ["sleep", "300"]),
            JobSpec(command: ["sh", "-c", "while [ ! -e \(scratch)/fail ]; do sleep 0.02; done; exit 1"]),
        ]))
        var ranOn = Set<String>()
        for id in failing.jobs { ranOn.insert(try await cluster.waitUntilRunning(id).node ?? "") }
        #expect(ranOn.count == 3, "one job per node")
        touch(scratch + "/fail")
        let failed = try await cluster.clients[1].waitGroup(failing.id, timeout: 60)
        #expect(failed.state == .failed && failed.counts[.failed] == 1 && failed.counts[.cancelled] == 2)
        for id in failing.jobs.prefix(2) {
            let job = try await cluster.clients[2].wait(id, timeout: 60)
            #expect(job.state == .cancelled)
            #expect(job.error == "cancelled: job \(failing.jobs[2]) of its group failed")
            #expect(try await cluster.clients[0].events(id).contains { $0.type == .cancelRequested && $0["reason"]?.canonicalText == #""group""# })
        }
    }

    @Test func aGroupDeleteThroughANodeThatDoesNotHoldIt_CancelsItsJobsOnEveryNode() async throws {
        let cluster = try await Cluster.start(nodes: 3, arguments: ["--max-running", "1"])
        defer { cluster.stop() }
        let deleted = try await cluster.clients[0].submitGroup(GroupSpec(jobs: [
            JobSpec(command: ["sleep", "300"]), JobSpec(command: ["sleep", "300"]), JobSpec(command: ["true"], delaySeconds: 600),
        ]))
        _ = try await cluster.waitUntilRunning(deleted.jobs[0])
        _ = try await cluster.waitUntilRunning(deleted.jobs[1])
        let answer = try await cluster.clients[1].cancelGroup(deleted.id)  // node 0 holds it
        #expect(answer.state == .running)
        let done = try await cluster.clients[2].waitGroup(deleted.id, timeout: 60)
        #expect(done.state == .cancelled && done.counts[.cancelled] == 3)
        for id in deleted.jobs {
            #expect(try await cluster.clients[2].job(id).state == .cancelled)
            // Also the scheduled one, cancelled unclaimed in the store.
            #expect(try await cluster.clients[2].events(id).contains { $0.type == .cancelRequested && $0["reason"]?.canonicalText == #""delete""# })
        }
    }
}
