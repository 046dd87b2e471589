import Dispatch
import Foundation
import JobsdAPI
import JobsdStore
import JobsdTesting
import Logging
import Testing

/// What only the PostgreSQL store has: several nodes migrating one database at once, reconnecting
/// after the server dropped its connections, unix-socket URLs, LISTEN/NOTIFY. (The behaviour it
/// shares with SQLite is in JobStoreContractTests.)
@Suite struct PostgresJobStoreTests {
    let logger = Logger(label: "jobsd.test.postgres")

    @Test func severalNodesOpeningOneEmptyDatabaseAtOnce_MigrateItOnce_AndAllOfThemWork() async throws {
        let url = try await TestPostgres.freshDatabaseURL()
        let stores = try await withThrowingTaskGroup(of: PostgresJobStore.self) { group in
            for _ in 0..<6 { group.addTask { try await open(url) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (n, store) in stores.enumerated() { #expect(try await store.insert(.make(n + 1)) == .inserted) }
        for store in stores {
            #expect(try await store.list(JobQuery()).count == stores.count)
            await store.close()
        }
        let reopened = try await open(url)  // finds the schema current and changes nothing
        #expect(try await reopened.list(JobQuery()).count == stores.count)
        await reopened.close()
    }

    @Test func twoNodesWhoseIDsInterleave_ListEveryJobNewestFirstByCreationTime_ThroughEither() async throws {
        let url = try await TestPostgres.freshDatabaseURL()
        let (a, b) = (try await open(url), try await open(url))
        // Node b's ids sort below node a's (its id time lags), yet b created its jobs in between.
        for (n, at, node) in [(5, 1001, a), (1, 1002, b), (6, 1003, a), (2, 1004, b), (7, 1005, a), (3, 1006, b)] {
            var record = JobRecord.make(n)
            record.job.createdAt = Timestamp(milliseconds: Int64(at))
            #expect(try await node.insert(record) == .inserted)
        }
        let newestFirst = [3, 7, 2, 6, 1, 5].map(jobID)
        #expect(try await a.list(JobQuery()).map(\.id) == newestFirst)
        #expect(try await b.list(JobQuery()).map(\.id) == newestFirst)
        let firstPage = try await b.list(JobQuery(limit: 4))
        let rest = try await a.list(JobQuery(after: firstPage.last.map { JobListPosition($0.job) }, limit: 4))
        #expect((firstPage + rest).map(\.id) == newestFirst, "a page through one node continues through the other")
        await a.close()
        await b.close()
    }

    @Test func aStore_ReconnectsByItself_AfterTheServerTerminatedItsConnections() async throws {
        let name = "jobsd-test-\(UUID().uuidString.prefix(8))"
        let url = try await TestPostgres.freshDatabaseURL() + "&application_name=\(name)"
        let store = try await open(url)
        _ = try await store.insert(.make(1))
        for _ in 0..<8 { #expect(try await store.get(jobID(1)) != nil) }  // every pooled connection is open

        try await TestPostgres.psql(
            try TestPostgres.serverURL(),
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '\(name)'")

        for _ in 0..<8 { #expect(try await store.get(jobID(1))?.id == jobID(1)) }  // reads retry on a new connection
        #expect(try await store.insert(.make(2)) == .inserted)
        #expect(try await store.list(JobQuery()).map(\.id) == [jobID(2), jobID(1)])
        await store.close()
    }

    @Test func aUnixSocketURL_ReachesTheServer() async throws {
        let tcp = try TestPostgres.serverURL()
        let port = try #require(tcp.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) })
        let socketDirectory = try #require(ProcessInfo.processInfo.environment["JOBSD_TEST_POSTGRES_SOCKET_DIR"])
        let store = try await open("postgres:///postgres?host=\(socketDirectory)&port=\(port)&user=postgres")
        let record = JobRecord.make(Int.random(in: 1_000_000...9_999_999))
        #expect(try await store.insert(record) == .inserted)
        #expect(try await store.get(record.id) == record)
        await store.close()
    }

    @Test func anUnreachableServer_IsAClearUnavailableError() async throws {
        #expect {
            try PostgresJobStore(url: "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", logger: logger)
        } throws: { error in
            guard case let .unavailable(why) = error as? JobStoreError else { return false }
            return why.contains("cannot open the PostgreSQL job store")
        }
    }

    @Test func aListener_ReceivesNotifications_AndAgainAfterItsConnectionWasTerminated() async throws {
        let name = "jobsd-listen-\(UUID().uuidString.prefix(8))"
        let url = try await TestPostgres.freshDatabaseURL()
        let store = try await open(url)
        let channel = "c_\(UUID().uuidString.prefix(8).lowercased())"
        let (received, inbox) = AsyncStream.makeStream(of: String.self)
        let (reconnected, reconnects) = AsyncStream.makeStream(of: Void.self)
        let listener = PostgresListener(
            url: url + "&application_name=\(name)", channels: [channel], retryInterval: .milliseconds(100),
            onNotification: { inbox.yield($0.payload) }, onReconnect: { reconnects.yield() })
        try await listener.start()
        var payloads = received.makeAsyncIterator()

        try await store.notify(channel: channel, payload: "first")
        #expect(await payloads.next() == "first")

        try await TestPostgres.psql(
            try TestPostgres.serverURL(),
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '\(name)'")
        var reconnections = reconnected.makeAsyncIterator()
        _ = await reconnections.next()
        try await store.notify(channel: channel, payload: "second")
        #expect(await payloads.next() == "second")

        await listener.stop()
        await store.close()
    }

    /// Opens a store off the cooperative pool (the initializer blocks for its round trips).
    private func open(_ url: String) async throws -> PostgresJobStore {
        let logger = logger
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try PostgresJobStore(url: url, logger: logger) })
            }
        }
    }
}
