import Foundation
import JobsdAPI
import JobsdClient
import Testing

/// Shell snippets and polling helpers for the orchestration tests. Jobs signal readiness by
/// printing; a test releases a blocked job by creating a file the job waits for.
enum Scripts {
    /// Prints `ready`, then waits until `file` exists, then appends `name` to `log`.
    static func blockUntil(_ file: String, name: String = "", log: String? = nil) -> [String] {
        let record = log.map { "; echo \(name) >> \($0)" } ?? ""
        return ["sh", "-c", "echo ready; while [ ! -e \(file) ]; do sleep 0.02; done\(record)"]
    }

    /// Appends `name` to `log`.
    static func record(_ name: String, to log: String) -> [String] { ["sh", "-c", "echo \(name) >> \(log)"] }

    /// Counts its runs in `counter`, prints `out-<n>`, and exits 0 from run `succeedOn` on
    /// (never, when nil), else 3.
    static func countedRun(_ counter: String, succeedOn: Int? = nil) -> [String] {
        let exit = succeedOn.map { "[ $n -ge \($0) ] && exit 0; exit 3" } ?? "exit 3"
        return ["sh", "-c", "n=$(cat \(counter) 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(counter); echo out-$n; \(exit)"]
    }
}

extension JobsdClient {
    /// Re-reads the job until `condition` holds (a state change the job gives no output for,
    /// such as entering a retry backoff); fails after `timeout` seconds.
    func job(_ id: String, until condition: (Job) -> Bool, timeout: Double = 30) async throws -> Job {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            let job = try await self.job(id)
            if condition(job) { return job }
            guard ContinuousClock.now < deadline else { throw TestFailure("job \(id) never reached the expected condition; now \(job.json)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// The lines of a file jobs append to (empty when it does not exist).
func lines(_ path: String) -> [String] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}

func touch(_ path: String) {
    FileManager.default.createFile(atPath: path, contents: Data())
}

/// The no-head-of-line rule with a deep queue (issue 16: "a queue of 10 000 jobs on one busy key
/// must not delay a job with another key"): `thousands` x 1 000 jobs wait on a busy key behind
/// one running job of it (groups of 1 000, one commit each, through `clients[0]`); then a job
/// with another key and one with none, through the other clients in turn, must both run while
/// every job of the busy key still waits. Then the groups are cancelled and the running job let go.
func checkADeepQueueOnOneKeyDelaysNoOtherKey(_ clients: [JobsdClient], thousands: Int) async throws {
    let client = clients[0]
    let scratch = try scratchDirectory()
    let busy = try await client.submit(JobSpec(command: Scripts.blockUntil(scratch + "/go"), concurrencyKey: "busy"))
    try await client.waitForOutput(busy.id, "ready")
    var groups: [JobGroup] = []
    for _ in 0..<thousands {
        let jobs = Array(repeating: JobSpec(command: ["true"], concurrencyKey: "busy"), count: 1000)
        groups.append(try await client.submitGroup(GroupSpec(failFast: false, jobs: jobs)))
    }
    let specs = [JobSpec(command: ["true"], concurrencyKey: "other"), JobSpec(command: ["true"])]
    for (n, spec) in specs.enumerated() {
        let through = clients[(n + 1) % clients.count]
        let job = try await through.submit(spec)
        #expect(try await through.wait(job.id, timeout: 60).state == .succeeded, "\(spec.concurrencyKey ?? "no key") is not held up")
    }
    for group in groups {
        let (counts, running) = (try await client.group(group.id).counts, try await client.job(busy.id).json)
        #expect(counts[.queued] == 1000, "the busy key's jobs all still wait: \(counts); the running one: \(running)")
    }
    for group in groups { _ = try await client.cancelGroup(group.id) }
    for group in groups { #expect(try await client.waitGroup(group.id, timeout: 120).state == .cancelled) }
    touch(scratch + "/go")
    #expect(try await client.wait(busy.id, timeout: 60).state == .succeeded)
}
