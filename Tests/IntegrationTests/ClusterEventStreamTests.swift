import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// `GET /v1/events` on several nodes (CONTRACT.md, "Several nodes on PostgreSQL"): any node's
/// stream carries every node's changes, live and when resumed by cursor.
@Suite struct ClusterEventStreamTests {
    @Test func aNodesEventStream_CarriesTheChangesAnotherNodeCommits_LiveAndWhenResumedWithLastEventID() async throws {
        let cluster = try await Cluster.start(nodes: 2, arguments: ["--max-running", "1"])
        defer { cluster.stop() }
        // The reader's node is kept full by a sleeper: the other node runs the probe, and the
        // reader's node writes nothing while the probe's changes come and go.
        let sleeper = try await cluster.waitUntilRunning(try await cluster.clients[0].submit(JobSpec(command: ["sleep", "300"])).id)
        let reader = try #require(cluster.nodeIDs.firstIndex(of: sleeper.node ?? ""))
        let writer = 1 - reader
        let label = ["probe": UUID().uuidString.prefix(8).lowercased()]
        let client = cluster.clients[reader]
        let live = try await client.changes(labels: label)  // subscribed once it returns

        let probe = try await cluster.clients[writer].submit(JobSpec(command: ["true"], labels: label))
        let events = try await Self.first(3, of: live)
        #expect(events.map(\.event) == ["job.queued", "job.running", "job.succeeded"])
        #expect(events.allSatisfy { $0.job.id == probe.id })
        #expect(events.last?.job.node == cluster.nodeIDs[writer])
        let seqs = events.compactMap { Int64($0.id) }
        #expect(seqs.count == 3 && seqs == seqs.sorted() && Set(seqs).count == 3)
        #expect(try await cluster.clients[reader].job(sleeper.id).state == .running, "the reader's node stayed full")

        // Resumed after the first: the other two, in order, from the reader's node.
        let resumed = try await client.transport.stream(ClientRequest(
            path: "/v1/events?follow=false&label=probe:\(label["probe"] ?? "")", headers: [("Last-Event-ID", events[0].id)]))
        #expect(resumed.status == 200)
        let text = String(decoding: try await resumed.collect().body, as: UTF8.self)
        let ids = text.split(separator: "\n").filter { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) }
        let kinds = text.split(separator: "\n").filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
        #expect(ids == events.dropFirst().map(\.id))
        #expect(kinds == ["job.running", "job.succeeded"])
    }

    /// The first `count` events of `sequence`; fails when they have not all come within 60 s
    /// (a guard against hanging, not a timing assertion).
    static func first(_ count: Int, of sequence: JobChangeSequence) async throws -> [JobChangeEvent] {
        try await withThrowingTaskGroup(of: [JobChangeEvent].self) { group in
            group.addTask {
                var events: [JobChangeEvent] = []
                for try await event in sequence {
                    events.append(event)
                    if events.count == count { break }
                }
                return events
            }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                throw TestFailure("fewer than \(count) events within 60 s")
            }
            defer { group.cancelAll() }
            return try await group.next() ?? []
        }
    }
}
