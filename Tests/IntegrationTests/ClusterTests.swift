import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// Several jobsd processes ("nodes") on one PostgreSQL database (a fresh schema of the test run's
/// server), with a short heartbeat and node timeout so that rescues happen within the test.
@Suite struct ClusterTests {
    /// Short leases where a test waits for a rescue; longer ones elsewhere, so that a node
    /// starved of CPU on a loaded machine is not taken for dead.
    static let quickRescue = ["--heartbeat", "250ms", "--node-timeout", "1500ms"]
    static let patient = ["--heartbeat", "250ms", "--node-timeout", "10s"]

    @Test func hundredsOfJobsPostedToThreeNodes_RunExactlyOnce_AndAnyNodeAnswersForAnyJob() async throws {
        let cluster = try await Cluster.start(nodes: 3, arguments: ["--max-running", "4"])
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        var ids: [String] = []
        for n in 0..<300 {
            let spec = JobSpec(command: ["sh", "-c", "echo $JOBSD_JOB_ID >> \(scratch)/ran"])
            ids.append(try await cluster.clients[n % 3].submit(spec).id)
        }
        var ranOn: [String: Int] = [:]
        for (n, id) in ids.enumerated() {
            let job = try await cluster.clients[(n + 1) % 3].wait(id, timeout: 60)  // asked of another node
            #expect(job.state == .succeeded, "\(id): \(job.error ?? "") on \(job.node ?? "null")")
            ranOn[job.node ?? "null", default: 0] += 1
        }
        let lines = try String(contentsOfFile: "\(scratch)/ran", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == ids.count, "each job ran exactly once")
        #expect(Set(lines) == Set(ids))
        #expect(Set(ranOn.keys).isSubset(of: Set(cluster.nodeIDs)), "every job names the node that ran it: \(ranOn)")
        let listed = try await cluster.clients[2].listPage(limit: 1000).jobs.map(\.id)
        #expect(listed == ids.reversed(), "any node lists every job, newest first")

        let nodes = try await cluster.nodes(via: 1)
        #expect(nodes.map(\.id) == cluster.nodeIDs.sorted())
        #expect(nodes.allSatisfy { $0.state == "alive" && $0.maxRunning == 4 && $0.address.hasPrefix("http://127.0.0.1:") })
    }

    @Test func aDeleteThroughAnotherNode_CancelsTheJobOnTheNodeThatRunsIt_AndAQueuedJobWherever() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ["--max-running", "1"])
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        let spec = JobSpec(
            command: ["sh", "-c", "exec sleep 300"], graceSeconds: 5,
            cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE >> \(scratch)/cleanup"]))
        let target = try await cluster.clients[0].submit(spec)
        let filler = try await cluster.clients[0].submit(JobSpec(command: ["sleep", "300"]))
        let running = try await cluster.waitUntilRunning(target.id)
        _ = try await cluster.waitUntilRunning(filler.id)
        let owner = try #require(cluster.nodeIDs.firstIndex(of: running.node ?? ""))
        let other = cluster.clients[1 - owner]

        let queued = try await cluster.clients[owner].submit(JobSpec(command: ["true"]))  // every slot is taken
        let cancelledQueued = try await other.transport.send(ClientRequest(method: "DELETE", path: "/v1/jobs/\(queued.id)"))
        #expect(cancelledQueued.status == 200)
        #expect(try decodeJob(cancelledQueued).state == .cancelled)
        #expect(try await cluster.clients[owner].job(queued.id).cleanup.state == .none)
        // Its timeline and the change feed (read through the node that cancelled it) tell the
        // cancel as for a job cancelled on its node.
        let told = try await cluster.clients[owner].events(queued.id)
        #expect(told.map(\.type.rawValue) == ["submitted", "cancel_requested", "finished"])
        #expect(told.map(\.seq) == [1, 2, 3])
        #expect(told.last?["state"]?.canonicalText == #""cancelled""#)
        var feed: [JobState] = []
        for try await change in try await other.changes(after: "0", jobs: [queued.id], follow: false) { feed.append(change.job.state) }
        #expect(feed == [.queued, .cancelled])

        let answer = try await other.transport.send(ClientRequest(method: "DELETE", path: "/v1/jobs/\(target.id)"))
        #expect(answer.status == 202)
        #expect(try decodeJob(answer).state == .cancelling)
        let done = try await other.wait(target.id, timeout: 30)
        #expect(done.state == .cancelled)
        #expect(done.signal == "SIGTERM")
        #expect(done.cleanup.state == .done)
        #expect(try String(contentsOfFile: "\(scratch)/cleanup", encoding: .utf8) == "cancelled\n")
        #expect(processesAlive(markedWith: target.id).isEmpty)
        #expect(try await other.cancel(target.id).state == .cancelled, "DELETE stays idempotent across nodes")
        #expect(try await other.cancel(filler.id, wait: 30).state == .cancelled)  // nothing outlives the test
    }

    @Test func aKill9OfANodeMidJob_IsRescuedByAnother_AndItsReturnKillsTheLeftovers_AndRunsTheCleanupOnce() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ClusterTests.quickRescue)
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        let (submitted, lost) = try await cluster.startSleeperWithCleanup(scratch: scratch)
        let survivor = cluster.clients[1 - lost]
        await cluster.nodes[lost].signal(SIGKILL)
        #expect(!processesAlive(markedWith: submitted.id).isEmpty, "the job outlived its node")

        let rescued = try await cluster.waitUntil(via: 1 - lost, submitted.id) { $0.state.isTerminal }
        #expect(rescued.state == .failed)
        #expect(rescued.error == "interrupted: node \(cluster.nodeIDs[lost]) stopped responding")
        #expect(rescued.cleanup.state == .pending, "its cleanup waits for the node that held its processes")
        #expect(rescued.node == cluster.nodeIDs[lost])
        #expect(rescued.logBytes == 6, "its stored output (ready)")
        #expect(try await cluster.nodes(via: 1 - lost).first { $0.id == cluster.nodeIDs[lost] }?.state == "dead")
        #expect(try await cluster.metric("jobsd_jobs_rescued_total", via: 1 - lost) == 1)
        #expect(try await cluster.metric("jobsd_node_lease_renewals_total", via: 1 - lost) ?? 0 > 1)

        try await cluster.restart(lost)
        let cleaned = try await cluster.waitUntil(via: 1 - lost, submitted.id) { $0.cleanup.state != .pending }
        #expect(cleaned.state == .failed)
        #expect(cleaned.cleanup.state == .done)
        #expect(try String(contentsOfFile: "\(scratch)/cleanup", encoding: .utf8) == "failed\n", "the cleanup ran once")
        #expect(processesAlive(markedWith: submitted.id).isEmpty, "the returning node killed the leftovers")
        #expect(try await survivor.job(submitted.id) == cleaned)

        // The timeline tells the rescue, then what the returning node did; the change feed has the
        // rescue's `failed`.
        let told = try await survivor.events(submitted.id)
        #expect(told.map(\.seq) == Array(1...told.count))
        #expect(Array(told.map(\.type).prefix(4)) == [.submitted, .started, .interrupted, .finished])
        #expect(told[2]["error"]?.canonicalText == "\"\(rescued.error ?? "")\"")
        #expect(told.last?.type == .cleanupFinished)
        #expect(told.filter { $0.type == .finished }.count == 1, "the rescue decided the end")
        var feed: [JobState] = []
        for try await change in try await survivor.changes(after: "0", jobs: [submitted.id], follow: false) { feed.append(change.job.state) }
        #expect(feed == [.queued, .running, .failed])
    }

    /// CONTRACT.md, "Several nodes": a rescued job with retries left is queued again rather than
    /// failed, and runs its next attempt on a node that is alive; the lost attempt's leftovers and
    /// cleanup are its old node's, once it returns.
    @Test func aKill9OfANodeMidJob_WithRetriesLeft_QueuesItAgain_AndTheReturningNodeCleansUpTheLostAttemptOnce() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ClusterTests.quickRescue)
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        // The first attempt sleeps; the second finds the first's mark and succeeds.
        let spec = JobSpec(
            command: ["sh", "-c", "[ -e \(scratch)/first ] && exit 0; touch \(scratch)/first; echo ready; exec sleep 300"],
            cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE >> \(scratch)/cleanup"]),
            retry: RetryPolicy(maxAttempts: 2, backoffSeconds: 0))
        let running = try await cluster.waitUntilRunning(try await cluster.clients[0].submit(spec).id)
        let lost = try #require(cluster.nodeIDs.firstIndex(of: running.node ?? ""))
        let survivor = cluster.clients[1 - lost]
        try await survivor.waitForOutput(running.id, "ready")
        await cluster.nodes[lost].signal(SIGKILL)

        let done = try await cluster.waitUntil(via: 1 - lost, running.id) { $0.state.isTerminal }
        #expect(done.state == .succeeded)
        #expect(done.attempt == 2)
        #expect(done.node == cluster.nodeIDs[1 - lost], "the next attempt ran on the node that is alive")
        #expect(done.attempts.map(\.state) == [.failed, .succeeded])
        #expect(done.attempts.first?.error == "interrupted: node \(cluster.nodeIDs[lost]) stopped responding")
        let told = try await survivor.events(running.id).map(\.type)
        let rescue = try #require(told.firstIndex(of: .interrupted))
        #expect(Array(told[rescue...].prefix(4)) == [.interrupted, .retryScheduled, .scheduled, .started])
        #expect(told.filter { $0 == .finished }.count == 1)
        #expect(try String(contentsOfFile: "\(scratch)/cleanup", encoding: .utf8) == "succeeded\n", "the lost attempt's cleanup waits for its node")
        #expect(!processesAlive(markedWith: running.id).isEmpty, "the lost attempt's sleep outlived its node")

        try await cluster.restart(lost)
        try await eventually("the returning node ran the lost attempt's cleanup", timeout: 60) {
            try await survivor.events(running.id).filter { $0.type == .cleanupFinished }.count == 2
        }
        let lines = try String(contentsOfFile: "\(scratch)/cleanup", encoding: .utf8).split(separator: "\n").sorted()
        #expect(lines == ["failed", "succeeded"], "each attempt's cleanup ran once, the lost one's with its state")
        #expect(processesAlive(markedWith: running.id).isEmpty, "the returning node killed the leftovers")
        let after = try await survivor.job(running.id)
        #expect(after.state == .succeeded && after.attempt == 2, "the old node's write changed nothing but the timeline")
        #expect(after.cleanup == done.cleanup)
    }

    @Test func aFrozenNodesJob_IsRescued_AndWhenItThaws_ItsCleanupOutcomeShowsThroughTheOtherNode() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ClusterTests.quickRescue)
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        let (submitted, frozen) = try await cluster.startSleeperWithCleanup(scratch: scratch)
        await cluster.nodes[frozen].signal(SIGSTOP)

        let rescued = try await cluster.waitUntil(via: 1 - frozen, submitted.id) { $0.state.isTerminal }
        #expect(rescued.state == .failed)
        #expect(rescued.cleanup.state == .pending, "its cleanup waits for the node that holds its processes")
        await cluster.nodes[frozen].signal(SIGCONT)
        let cleaned = try await cluster.waitUntil(via: 1 - frozen, submitted.id) { $0.cleanup.state != .pending }
        #expect(cleaned.cleanup.state == .done, "the node that held the processes ran the cleanup, and every node shows it")
        #expect(cleaned.state == .failed)
        #expect(cleaned.finishedAt == rescued.finishedAt, "the rescue decided the end")
        #expect(try String(contentsOfFile: "\(scratch)/cleanup", encoding: .utf8) == "failed\n", "the cleanup ran once")
        #expect(processesAlive(markedWith: submitted.id).isEmpty, "the thawed node killed the job's processes at once")
    }

    /// A node frozen while it holds the claim lock (taken inside its claim transaction) would stall
    /// every claim of its cluster: its session ends once its transaction sat idle for
    /// `--node-timeout`, which frees the lock. The lock is the schema's: a cluster in another
    /// schema of the same database never waits for it.
    @Test func aNodeFrozenHoldingTheClaimLock_StallsItsClusterOnlyUntilTheNodeTimeout_AndNoOtherCluster() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ["--heartbeat", "250ms", "--node-timeout", "3s"])
        defer { cluster.stop() }
        let other = try await Cluster.start(nodes: 1)
        defer { other.stop() }
        // The claim lock's key as jobsd takes it; pg_locks shows an int4 pair as classid, objid.
        let claimLock = "l.locktype = 'advisory' AND l.objsubid = 2 AND l.objid = 2 "
            + "AND l.classid = (hashtext(current_schema())::bigint & 4294967295)::oid"
        let holder = try await holdUntilTheGateOpens(cluster.url, "PERFORM pg_advisory_xact_lock(hashtext(current_schema()), 2)")
        defer { holder.signal(SIGKILL) }
        try await cluster.diagnosing {
            // Both nodes claim at every heartbeat: wait until both wait for the lock.
            try await waitUntil(
                cluster.url, "(SELECT count(*) FROM pg_locks l WHERE NOT l.granted AND \(claimLock)) >= 2", "the nodes never waited for the claim lock")
            try await other.diagnosing {
                let elsewhere = try await other.clients[0].submit(JobSpec(command: ["true"]))
                #expect(try await other.clients[0].wait(elsewhere.id, timeout: 60).state == .succeeded, "another schema's claims do not wait")
            }

            await cluster.nodes[0].signal(SIGSTOP)
            try await TestPostgres.psql(cluster.url, "INSERT INTO test_gate VALUES (true)")
            _ = await holder.wait()
            // Node 0 now gets the lock in turn and holds it, frozen, inside its transaction.
            let stalled = try await cluster.clients[1].submit(JobSpec(command: ["true"]))
            let ran = try await cluster.clients[1].wait(stalled.id, timeout: 60)
            #expect(ran.state == .succeeded, "node 1 claimed once node 0's idle transaction was ended")
            #expect(ran.node == cluster.nodeIDs[1])

            await cluster.nodes[0].signal(SIGCONT)
            let after = try await cluster.clients[0].submit(JobSpec(command: ["true"]))
            #expect(try await cluster.clients[0].wait(after.id, timeout: 60).state == .succeeded, "the thawed node reconnects and carries on")
        }
    }

    /// A node's lease renewal waits for nothing of its own: while its writes wait for the change
    /// log (psql holds its row lock here; a large group insert holds it for seconds in real use,
    /// which is how CI once saw a healthy node's job rescued) — a submission, and a claim of a
    /// job whose scheduled time came meanwhile — the nodes keep renewing their leases, and no
    /// node takes the other's running job for a silent node's.
    @Test func aNodeWhoseWriteWaitsForTheChangeLog_KeepsRenewingItsLease_AndKeepsItsRunningJob() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ["--heartbeat", "250ms", "--node-timeout", "2s"])
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        let job = try await cluster.clients[0].submit(JobSpec(command: Scripts.blockUntil(scratch + "/go")))
        try await cluster.clients[0].waitForOutput(job.id, "ready")
        let owner = try #require(cluster.nodeIDs.firstIndex(of: try await cluster.clients[0].job(job.id).node ?? ""))
        let holder = try await holdUntilTheGateOpens(cluster.url, "UPDATE store_meta SET value = value WHERE key = 'changes_last'")
        defer { holder.signal(SIGKILL) }
        try await cluster.diagnosing {
            let holding = "EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE 'DO $gate$ BEGIN UPDATE store_meta%')"
            let scheduled = try await cluster.clients[owner].submit(JobSpec(command: ["true"], delaySeconds: 3600))
            try await waitUntil(cluster.url, holding, "psql never took the change log's lock")
            // A submission through the owner: its transaction waits for the change log, holding the
            // node's change relay, which the heartbeat's change poll needed before the fix. The
            // scheduled job is made due now: a claim of it waits too, after the claim renewed its
            // node's lease, which locked the node's row against the heartbeat before the fix.
            async let posted = cluster.clients[owner].submit(JobSpec(command: ["true"]))
            try await TestPostgres.psql(cluster.url, "UPDATE jobs SET orchestration = jsonb_set(orchestration::jsonb, '{run_at}', '0')::text WHERE id = '\(scheduled.id)'")
            // Whichever comes first, two jobsd transactions then wait for a lock: the submission
            // or the owner's claim for the change log (the other of the two waits for the owner's
            // relay, in jobsd), and the other node's claim for the change log or the claim lock.
            let waiting = "FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            try await waitUntil(cluster.url, "(SELECT count(*) \(waiting)) >= 2", "the submission and a claim never both waited")
            for node in cluster.nodeIDs {
                try await waitUntil(
                    cluster.url, "(SELECT last_seen_at FROM nodes WHERE id = '\(node)') > (SELECT max(extract(epoch FROM query_start) * 1000) \(waiting)) + 4000",
                    "\(node) renewed no lease two node timeouts after its write began to wait")
            }
            try await TestPostgres.psql(cluster.url, "INSERT INTO test_gate VALUES (true)")
            _ = await holder.wait()
            #expect(try await cluster.clients[owner].wait(try await posted.id, timeout: 60).state == .succeeded)
            #expect(try await cluster.clients[owner].wait(scheduled.id, timeout: 60).state == .succeeded)
            #expect(try await cluster.clients[1 - owner].job(job.id).state == .running, "no node rescued the job")
            touch(scratch + "/go")
            let done = try await cluster.clients[1 - owner].wait(job.id, timeout: 60)
            #expect(done.state == .succeeded && done.attempt == 1)
            #expect(!(try await cluster.clients[0].events(job.id)).contains { $0.type.rawValue == "interrupted" })
        }
    }

    /// psql running `statement` in a transaction that holds what it took (a lock) until the test
    /// opens the gate (`INSERT INTO test_gate`) or 120 s pass, so that nothing outlives the test.
    private func holdUntilTheGateOpens(_ url: String, _ statement: String) async throws -> ChildProcess {
        try await TestPostgres.psql(url, "CREATE TABLE test_gate (open boolean)")
        return try ChildProcess.spawn(argv: [
            "psql", url, "-qAtc",
            "DO $gate$ BEGIN \(statement); "
                + "WHILE NOT EXISTS (SELECT 1 FROM test_gate) AND clock_timestamp() < statement_timestamp() + interval '120 s' "
                + "LOOP PERFORM pg_sleep(0.02); END LOOP; END $gate$",
        ])
    }

    /// Polls the SQL boolean `condition` until it holds, for at most 60 s.
    private func waitUntil(_ url: String, _ condition: String, _ failure: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while try await !TestPostgres.holds(url, condition) {
            guard ContinuousClock.now < deadline else { throw TestFailure(failure) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func aSIGTERMOfOneNode_DrainsOnlyItsOwnRunningJobs_AndLeavesTheQueuedOnesToTheOthers() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ["--max-running", "1", "--shutdown-timeout", "60s"])
        defer { cluster.stop() }
        let scratch = try scratchDirectory()
        let held = JobSpec(command: ["sh", "-c", "while [ ! -e \(scratch)/go ]; do sleep 0.05; done"])
        let first = try await cluster.clients[0].submit(held)
        let second = try await cluster.clients[0].submit(held)
        let a = try await cluster.waitUntilRunning(first.id)
        let b = try await cluster.waitUntilRunning(second.id)
        #expect(Set([a.node, b.node]) == Set(cluster.nodeIDs), "each node runs one (max-running 1)")
        let draining = try #require(cluster.nodeIDs.firstIndex(of: a.node ?? ""))
        let stays = 1 - draining
        var later: [String] = []
        for _ in 0..<4 { later.append(try await cluster.clients[stays].submit(JobSpec(command: ["true"])).id) }
        await cluster.nodes[draining].signal(SIGTERM)
        #expect(try await cluster.clients[draining].readyzAfterDrainBegins() == 503)
        _ = FileManager.default.createFile(atPath: "\(scratch)/go", contents: nil)
        #expect(await cluster.nodes[draining].waitForExit().exitCode == 0)
        #expect(try await cluster.clients[stays].job(first.id).state == .succeeded, "its running job finished the drain")
        for id in later {
            let job = try await cluster.clients[stays].wait(id, timeout: 60)
            #expect(job.state == .succeeded)
            #expect(job.node == cluster.nodeIDs[stays], "queued jobs ran on the node that stayed")
        }
    }
}

/// N jobsd nodes on one fresh database, each with its own data dir and node id.
final class Cluster: Sendable {
    let url: String
    let nodeIDs: [String]
    let directories: [String]
    let arguments: [String]
    private let processes: LockedBox<[JobsdProcess]>

    var nodes: [JobsdProcess] { processes.value }
    var clients: [JobsdClient] { processes.value.map { $0.client() } }

    static func start(nodes count: Int, arguments: [String] = []) async throws -> Cluster {
        let url = try await TestPostgres.freshDatabaseURL()
        let tag = UUID().uuidString.prefix(6).lowercased()
        let ids = (0..<count).map { "node-\(tag)-\($0)" }
        let directories = try ids.map { try TemporaryDirectory.make(prefix: "jobsd-\($0)") }
        let timing = arguments.contains("--node-timeout") ? [] : ClusterTests.patient
        let cluster = Cluster(url: url, nodeIDs: ids, directories: directories, arguments: timing + arguments)
        for index in 0..<count { cluster.processes.value.append(try await cluster.launch(index)) }
        return cluster
    }

    private init(url: String, nodeIDs: [String], directories: [String], arguments: [String]) {
        self.url = url
        self.nodeIDs = nodeIDs
        self.directories = directories
        self.arguments = arguments
        processes = LockedBox([])
    }

    private func launch(_ index: Int) async throws -> JobsdProcess {
        try await JobsdProcess.start(
            dataDirectory: directories[index], arguments: ["--store", url, "--node-id", nodeIDs[index]] + arguments)
    }

    /// Starts node `index` again (same id, same data dir) after it stopped.
    func restart(_ index: Int) async throws {
        let node = try await launch(index)
        processes.value[index] = node
    }

    func stop() {
        for node in processes.value { node.child.signal(SIGKILL) }
        for directory in directories { TemporaryDirectory.remove(directory) }
    }

    struct Node: Decodable {
        var id: String
        var address: String
        var state: String
        var maxRunning: Int
        enum CodingKeys: String, CodingKey {
            case id, address, state
            case maxRunning = "max_running"
        }
    }

    func nodes(via index: Int) async throws -> [Node] {
        struct Nodes: Decodable { var nodes: [Node] }
        let response = try await clients[index].transport.send(ClientRequest(path: "/v1/nodes"))
        return try JSONDecoder().decode(Nodes.self, from: Data(response.body)).nodes
    }

    /// The value of an unlabelled series in node `index`'s /metrics.
    func metric(_ name: String, via index: Int) async throws -> Double? {
        let response = try await clients[index].transport.send(ClientRequest(path: "/metrics"))
        let text = String(decoding: response.body, as: UTF8.self)
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }

    /// The last 40 lines of every node's log (with each node's exit status when it exited).
    var logTails: String {
        nodes.map { node in
            "--- \(node.logPath) \(node.child.exitStatus.map { "exited: \($0)" } ?? "running")\n"
                + node.log.split(separator: "\n").suffix(40).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Runs `body`; an error it throws comes back with every node's log tail (`logTails`).
    func diagnosing<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw TestFailure("\(error)\n" + logTails) }
    }

    /// Polls the job through node `index` until `condition` holds (at most 60 s).
    func waitUntil(via index: Int = 0, _ id: String, _ condition: (Job) -> Bool) async throws -> Job {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        var job = try await clients[index].job(id)
        while !condition(job) {
            guard clock.now < deadline else {
                throw TestFailure("job \(id) never reached the expected state: \(job)\n" + logTails)
            }
            try await Task.sleep(for: .milliseconds(20))
            job = try await clients[index].job(id)
        }
        return job
    }

    func waitUntilRunning(_ id: String) async throws -> Job {
        try await waitUntil(id) { $0.state == .running && $0.pid != nil && $0.node != nil }
    }

    /// Submits `echo ready; sleep 300` with a cleanup that appends `$JOBSD_JOB_STATE` to
    /// `<scratch>/cleanup`, waits until it runs and another node reads its `ready`, and returns it
    /// with the index of the node that runs it.
    func startSleeperWithCleanup(scratch: String) async throws -> (job: Job, node: Int) {
        let spec = JobSpec(
            command: ["sh", "-c", "echo ready; exec sleep 300"],
            cleanup: CleanupSpec(command: ["sh", "-c", "echo $JOBSD_JOB_STATE >> \(scratch)/cleanup"]))
        let running = try await waitUntilRunning(try await clients[0].submit(spec).id)
        guard let node = nodeIDs.firstIndex(of: running.node ?? "") else { throw TestFailure("no node runs \(running.id)") }
        try await clients[1 - node].waitForOutput(running.id, "ready")  // its output is in the database
        return (running, node)
    }
}

/// A value behind a lock, for test helpers shared between tasks.
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// A node whose database goes away and comes back, on a PostgreSQL server of the test's own.
@Suite struct DatabaseLossTests {
    @Test func aDatabaseRestartMidRun_KeepsTheJobRunning_Answers503Meanwhile_KeepsItsOutput_AndTheNodeCarriesOnByItself() async throws {
        let database = try await PrivatePostgres.start()
        let data = try TemporaryDirectory.make(prefix: "jobsd-db-loss")
        let scratch = try scratchDirectory()
        let node = try await JobsdProcess.start(
            dataDirectory: data, arguments: ["--store", database.url, "--heartbeat", "250ms", "--node-timeout", "10s"])
        let client = node.client()
        let script = "echo before; while [ ! -e \(scratch)/mid ]; do sleep 0.05; done; echo during; "
            + "while [ ! -e \(scratch)/go ]; do sleep 0.05; done; echo after"
        let job = try await client.submit(JobSpec(command: ["sh", "-c", script]))
        try await client.waitForOutput(job.id, "before")  // stored: read back from the database

        try await database.stopServer()
        #expect(try await client.readyzAfterDrainBegins() == 503, "/readyz says the node cannot take work")
        let refused = try await client.transport.send(ClientRequest(method: "POST", path: "/v1/jobs", body: Array(#"{"command":["true"]}"#.utf8)))
        #expect(refused.status == 503)
        #expect(refused.header("Retry-After") != nil)
        #expect(!processesAlive(markedWith: job.id).isEmpty, "the running job keeps running")
        _ = FileManager.default.createFile(atPath: "\(scratch)/mid", contents: nil)
        let noticed = ContinuousClock.now + .seconds(60)
        while !node.log.contains("storing job output failed") {
            guard ContinuousClock.now < noticed else { throw TestFailure("the node never tried to store the output:\n\(node.log)") }
            try await Task.sleep(for: .milliseconds(20))
        }

        try await database.startServer()
        var ready = 503
        while ready != 200 {
            try await Task.sleep(for: .milliseconds(50))
            ready = try await client.transport.send(ClientRequest(path: "/readyz")).status
        }
        _ = FileManager.default.createFile(atPath: "\(scratch)/go", contents: nil)
        #expect(try await client.wait(job.id, timeout: 60).state == .succeeded, "nothing acknowledged was lost")
        #expect(try await client.logs(job.id).text == "before\nduring\nafter\n", "output written meanwhile waited and was stored")
        let after = try await client.submit(JobSpec(command: ["true"]))
        #expect(try await client.wait(after.id, timeout: 60).state == .succeeded)

        node.child.signal(SIGKILL)
        _ = await node.waitForExit()
        await database.remove()
        TemporaryDirectory.remove(data)
    }
}
