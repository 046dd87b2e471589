import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// The jobsd binary on a PostgreSQL store (`--store postgres://…` or `JOBSD_STORE`), on the test
/// run's throwaway server: the same API as on SQLite, with the records in PostgreSQL.
@Suite struct PostgresNodeTests {
    @Test func aNodeOnPostgreSQL_RunsJobs_AndAfterAKill9FindsThemAllInTheDatabase() async throws {
        let url = try await TestPostgres.freshDatabaseURL()
        let data = try TemporaryDirectory.make(prefix: "jobsd-pg-node")
        defer { TemporaryDirectory.remove(data) }
        let first = try await JobsdProcess.start(dataDirectory: data, env: ["JOBSD_STORE": url])
        let client = first.client()
        let done = try await client.submit(JobSpec(command: ["sh", "-c", "echo hello"], labels: ["team": "data"]))
        #expect(try await client.wait(done.id).state == .succeeded)
        #expect(try await client.logs(done.id).text == "hello\n")
        let keyed = try await client.submit(JobSpec(command: ["true"]), idempotencyKey: "once")
        #expect(try await client.submit(JobSpec(command: ["true"]), idempotencyKey: "once").id == keyed.id)
        let running = try await client.submit(JobSpec(command: ["sh", "-c", "echo ready; exec sleep 300"]))
        try await client.waitForOutput(running.id, "ready")
        await first.signal(SIGKILL)
        #expect(!FileManager.default.fileExists(atPath: data + "/jobsd.sqlite"), "the records are not in the data dir")

        let second = try await JobsdProcess.start(dataDirectory: data, arguments: ["--store", url])
        defer { second.child.signal(SIGKILL) }
        let restarted = second.client()
        #expect(try await restarted.job(done.id).state == .succeeded)
        #expect(try await restarted.listPage(labels: ["team": "data"]).jobs.map(\.id) == [done.id])
        let interrupted = try await restarted.wait(running.id)
        #expect(interrupted.state == .failed)
        #expect(interrupted.error?.hasPrefix("interrupted") == true)
        #expect(processesAlive(markedWith: running.id).isEmpty)
    }

    @Test func anUnreachableDatabase_StopsTheStartWithOneClearLine() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-pg-node")
        defer { TemporaryDirectory.remove(data) }
        do {
            let node = try await JobsdProcess.start(
                dataDirectory: data, arguments: ["--store", "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=2"])
            node.child.signal(SIGKILL)
            Issue.record("jobsd started without its database")
        } catch let error as TestHarnessError {
            #expect(error.description.contains("jobsd exited (exit 1)"))
            #expect(error.description.contains("cannot open the PostgreSQL job store"))
        }
    }

    @Test func aStoreThatIsNeitherSQLiteNorAPostgresURL_IsRefusedAtStart() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-pg-node")
        defer { TemporaryDirectory.remove(data) }
        await #expect(throws: TestHarnessError.self) {
            _ = try await JobsdProcess.start(dataDirectory: data, arguments: ["--store", "mysql://x"])
        }
    }
}
