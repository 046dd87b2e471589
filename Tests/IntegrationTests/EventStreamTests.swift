import Foundation
import JobsdAPI
import JobsdClient
import JobsdServer
import JobsdTesting
import Testing

/// `GET /v1/events`: server-sent job state changes, resumable by cursor.
@Suite struct EventStreamTests {
    /// Reads events until `count` have arrived.
    private func read(_ count: Int, from iterator: inout JobChangeSequence.AsyncIterator) async throws -> [JobChangeEvent] {
        var events: [JobChangeEvent] = []
        while events.count < count {
            guard let event = try await iterator.next() else { throw TestFailure("the stream ended after \(events)") }
            events.append(event)
        }
        return events
    }

    @Test func anIdleStream_GetsAKeepAliveComment_EveryInterval() async throws {
        #expect(ServerConfiguration().eventStreamKeepAlive == 15, "the contract's 15 s by default")
        try await TestServer.with({ $0.eventStreamKeepAlive = 0.2 }) { server in
            let response = try await server.client().transport.stream(ClientRequest(path: "/v1/events"))
            #expect(response.status == 200)
            let body = response.body
            let text = try await withThrowingTaskGroup(of: String.self) { group in
                group.addTask {
                    var text = ""
                    for try await chunk in body {
                        text += String(decoding: chunk, as: UTF8.self)
                        if text.components(separatedBy: ": keep-alive\n\n").count >= 3 { break }
                    }
                    return text
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(30))
                    throw TestFailure("no two keep-alive comments within 30 s")
                }
                defer { group.cancelAll() }
                return try await group.next() ?? ""
            }
            #expect(text.hasPrefix(": keep-alive\n\n: keep-alive\n\n"), "nothing but comments on an idle stream: \(text)")
        }
    }

    @Test func withoutACursor_OnlyLiveChangesCome_AndASubmissionIsJobQueued() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let before = try await client.submit(JobSpec(command: ["true"]))
            _ = try await client.wait(before.id)
            var stream = try await client.changes().makeAsyncIterator()
            let job = try await client.submit(JobSpec(command: ["true"]))
            let events = try await read(3, from: &stream)
            #expect(events.map(\.event) == ["job.queued", "job.running", "job.succeeded"])
            #expect(events.allSatisfy { $0.job.id == job.id && "job.\($0.job.state.rawValue)" == $0.event })
            let ids = events.compactMap { Int64($0.id) }
            #expect(ids.count == 3 && ids == ids.sorted() && Set(ids).count == 3)
            let raw = try await server.send("HEAD", "/v1/events")
            #expect(raw.status == 200)
            #expect(raw.header("Content-Type") == "text/event-stream")
        }
    }

    @Test func filters_ByJobLabelAndState_AndAnUnknownJobIsNoError() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let unknown = "01JDQ6W6X7Z8K9M0N1P2Q3R4S5"
            var byLabel = try await client.changes(labels: ["team": "a", "tier": "1"], states: [.succeeded, .failed]).makeAsyncIterator()
            let other = try await client.submit(JobSpec(command: ["true"], labels: ["team": "a"]))
            let wanted = try await client.submit(JobSpec(command: ["sh", "-c", "exit 2"], labels: ["team": "a", "tier": "1"]))
            _ = try await client.wait(other.id)
            var byID = try await client.changes(after: "0", jobs: [unknown, other.id]).makeAsyncIterator()
            let events = try await read(1, from: &byLabel)
            #expect(events.map(\.event) == ["job.failed"])
            #expect(events.first?.job.id == wanted.id)
            let fromStart = try await read(3, from: &byID)
            #expect(fromStart.map(\.event) == ["job.queued", "job.running", "job.succeeded"])
            #expect(fromStart.allSatisfy { $0.job.id == other.id })
            let bad = try await server.send("GET", "/v1/events?state=bogus")
            #expect(bad.status == 400)
            #expect(try decodeProblem(bad).field == "state")
            #expect(try await server.send("GET", "/v1/events?after=x").status == 400)
        }
    }

    @Test func resume_AcrossARestart_SendsEveryLaterChangeOnce_InOrder_WithTheSameIDs() async throws {
        let data = try TemporaryDirectory.make(prefix: "jobsd-events")
        defer { TemporaryDirectory.remove(data) }
        let first = try await JobsdProcess.start(dataDirectory: data)
        var live = try await first.client().changes().makeAsyncIterator()
        for _ in 0..<3 { _ = try await first.client().submit(JobSpec(command: ["true"])) }
        let seen = try await read(9, from: &live)
        await first.signal(SIGKILL)

        let second = try await JobsdProcess.start(dataDirectory: data)
        defer { second.child.signal(SIGKILL) }
        let client = second.client()
        var resumed = try await client.changes(after: seen[3].id).makeAsyncIterator()
        let later = try await read(5, from: &resumed)
        #expect(later.map(\.id) == seen[4...].map(\.id))
        #expect(later.map(\.event) == seen[4...].map(\.event))
        #expect(later.map(\.job.id) == seen[4...].map(\.job.id))
        let next = try await client.submit(JobSpec(command: ["true"]))
        let fresh = try await read(1, from: &resumed)
        #expect(fresh.first?.event == "job.queued" && fresh.first?.job.id == next.id, "no duplicate before the live change")
        #expect((Int64(fresh.first?.id ?? "") ?? 0) > (Int64(seen[8].id) ?? .max))
    }

    @Test func aCursorOlderThanRetention_Is410() async throws {
        try await TestServer.with({ $0.engine.retention = 0.001; $0.engine.sweepInterval = 0.05 }) { server in
            let client = server.client()
            let job = try await client.submit(JobSpec(command: ["true"]))
            // Once finished, the sweep removes the job (and the changes before it): the readiness
            // signal is a 404.
            var status = 200
            while status == 200 {
                status = try await server.send("GET", "/v1/jobs/\(job.id)").status
                if status == 200 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(status == 404)
            let gone = try await server.send("GET", "/v1/events?after=0")
            #expect(gone.status == 410)
            #expect(gone.header("Content-Type") == "application/problem+json")
            let goneByHeader = try await server.send("GET", "/v1/events", headers: [("Last-Event-ID", "1")])
            #expect(goneByHeader.status == 410)
        }
    }

    /// A client that learns of a job's end from the stream may act on it at once: the job it
    /// reads back (`GET`, `?wait`) is already what the event said, for every job of a busy run.
    @Test func everyTerminalEvent_IsAlreadyVisibleThroughGetAndWait_ForManyJobsInARow() async throws {
        try await TestServer.with { server in
            let client = server.client()
            var stream = try await client.changes(labels: ["row": "1"], states: [.succeeded, .failed]).makeAsyncIterator()
            let count = 150
            // Other jobs start and end all the while, so that the store commits several ends in
            // one batch and the engine has other work when a job of the row ends.
            let busy = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            while !Task.isCancelled { _ = try await client.submit(JobSpec(command: ["true"])) }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            defer { busy.cancel() }
            var stale: [String] = []
            for index in 0..<count {
                let job = try await client.submit(JobSpec(command: ["sh", "-c", "exit \(index % 2)"], labels: ["row": "1"]))
                let event = try #require(try await stream.next())
                #expect(event.job.id == job.id)
                // Read back at once.
                let read = try await client.job(job.id)
                if read.state != event.job.state { stale.append("\(event.event), then GET: \(read.state.rawValue)") }
                let waited = try decodeJob(try await server.send("GET", "/v1/jobs/\(job.id)?wait=5"))
                if waited.state != event.job.state { stale.append("\(event.event), then ?wait: \(waited.state.rawValue)") }
            }
            #expect(stale.isEmpty, "read back older than the event: \(stale.count) of \(count): \(stale.prefix(5))")
        }
    }

    @Test func aSlowReader_IsCutOff_AndSlowsNeitherJobsNorOtherReaders() async throws {
        try await TestServer.with({ $0.engine.maxRunning = 1 }) { server in
            let client = server.client()
            let slow = try RawEventReader(port: server.port)
            var fast = try await client.changes(states: [.queued]).makeAsyncIterator()
            let blocker = try await client.submit(JobSpec(command: ["sleep", "600"]))
            // About 16 KiB of JSON per job: 400 queued jobs are ~6 MiB of events, more than the
            // socket buffers and the 1 MiB the server keeps for a reader.
            let big = ["true", String(repeating: "x", count: 16_000)]
            var submitted: [String] = []
            for _ in 0..<400 { submitted.append(try await client.submit(JobSpec(command: big)).id) }
            let received = try await read(401, from: &fast)
            #expect(received.map(\.job.id) == [blocker.id] + submitted, "the other reader got every change, in order")
            let slowEvents = try slow.readUntilClosed()
            #expect(slowEvents < 401, "the slow reader's stream was closed before it fell further behind")
            _ = try await client.cancel(blocker.id, grace: 0)
        }
    }
}

/// A client that sends `GET /v1/events` on a plain socket with a tiny receive buffer and reads
/// nothing until asked, so the server sees a reader that has stopped reading.
private final class RawEventReader {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestFailure("connect failed: \(errno)") }
        let request = Array("GET /v1/events HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { throw TestFailure("send failed") }
        // The answer's head: the subscription exists once it arrives.
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !head.ends(with: Array("\r\n\r\n".utf8)) {
            var got: Int
            repeat { got = recv(fd, &byte, 1, 0) } while got < 0 && errno == EINTR
            guard got == 1 else { throw TestFailure("no answer head (recv: \(got), errno \(errno))") }
            head.append(byte)
        }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 200") else { throw TestFailure("answer: \(head)") }
    }

    deinit { close(fd) }

    /// Reads to end-of-file and returns how many events (`id:` lines) came; throws when the server
    /// keeps the stream open (the receive timeout passes).
    func readUntilClosed() throws -> Int {
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { break }
            guard n > 0 else { throw TestFailure("the stream stayed open (errno \(errno))") }
            text += buffer[0..<n]
        }
        return String(decoding: text, as: UTF8.self).components(separatedBy: "\nid: ").count - 1
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
