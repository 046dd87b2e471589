import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdServer
import JobsdTesting
import JobsdWebhooks
import Testing

/// Completion webhooks (CONTRACT.md, "Completion webhooks") through a real jobsd and a real HTTP
/// receiver: delivery with retries, the signature checked by an independent HMAC (Python's), the
/// refused targets, giving up after `--webhook-max-attempts`, and a delivery pending across a
/// `kill -9`. The first two also run on PostgreSQL.
@Suite struct WebhookTests {
    static let secret = "It's a secret to everybody"

    @Test(arguments: [false, true])
    func aReceiverThatFailsTwice_GetsTheJobOnTheThirdAttempt_SignedAndWithTheBackoffInTheTimeline(postgres: Bool) async throws {
        let store: StoreKind = postgres ? .postgres(url: try await TestPostgres.freshDatabaseURL()) : .sqlite
        try await WebhookReceiver.with(statuses: [500, 503]) { receiver in
            try await TestServer.with({
                $0.store = store
                $0.webhooks.secret = Self.secret
            }) { server in
                let client = server.client()
                let job = try await client.submit(JobSpec(command: ["sh", "-c", "exit 3"], notify: NotifySpec(url: receiver.url)))
                let requests = try await receiver.waitForRequests(3)
                let events = try await timeline(of: job.id, endingWith: .notifyDelivered, client)

                let deliveries = Set(requests.map { $0.header("Jobsd-Delivery") })
                #expect(deliveries.count == 1, "every retry carries the same Jobsd-Delivery")
                #expect(deliveries.first??.count == 36)
                for request in requests {
                    #expect(request.method == "POST")
                    #expect(request.path == "/hook")
                    #expect(request.header("Content-Type") == "application/json")
                    #expect(request.header("Jobsd-Event") == "job.failed")
                    let body = try JSONDecoder().decode(Job.self, from: Data(request.body))
                    #expect(body.id == job.id && body.state == .failed && body.exitCode == 3)
                    #expect(request.header("Jobsd-Signature") == "sha256=" + (try await independentHMAC(request.body, key: Self.secret)))
                }

                let notify = events.filter { $0.type.rawValue.hasPrefix("notify_") }
                #expect(notify.map(\.type) == [.notifyAttemptFailed, .notifyAttemptFailed, .notifyDelivered])
                #expect(notify.map { $0["status"] } == [.number(500), .number(503), .number(200)])
                #expect(notify[0]["attempt"] == .number(1) && notify[1]["attempt"] == .number(2))
                #expect(notify[2]["attempts"] == .number(3))
                #expect(events.map(\.seq) == Array(1...events.count), "one timeline, numbered on")
                // Backoff 1 s, then 2 s: lower bounds only (the machine may be slow, never fast).
                for (event, pause) in zip(notify.prefix(2), [1.0, 2.0]) {
                    guard case let .string(text)? = event["retry_at"], let retryAt = Timestamp(rfc3339: text) else {
                        Issue.record("no retry_at in \(event.json)")
                        continue
                    }
                    #expect(event.at.seconds(until: retryAt) >= pause - 0.1)
                }
                #expect(notify[1].at.seconds(until: notify[2].at) >= 1.9, "the third attempt waited for its backoff")

                let metrics = try await server.send("GET", "/metrics").text
                #expect(metrics.contains("jobsd_webhook_attempts_total{outcome=\"failed\"} 2"))
                #expect(metrics.contains("jobsd_webhook_attempts_total{outcome=\"delivered\"} 1"))
                #expect(metrics.contains("jobsd_webhook_deliveries_total{outcome=\"delivered\"} 1"))
            }
        }
    }

    @Test(arguments: [false, true])
    func aReceiverThatNeverSucceeds_GetsMaxAttempts_ThenTheTimelineSaysNotifyFailed(postgres: Bool) async throws {
        let store: StoreKind = postgres ? .postgres(url: try await TestPostgres.freshDatabaseURL()) : .sqlite
        try await WebhookReceiver.with(statuses: [500, 404, 500]) { receiver in
            try await TestServer.with({
                $0.store = store
                $0.webhooks.maxAttempts = 2
            }) { server in
                let client = server.client()
                let job = try await client.submit(JobSpec(command: ["true"], notify: NotifySpec(url: receiver.url)))
                let events = try await timeline(of: job.id, endingWith: .notifyFailed, client)
                let failed = try #require(events.last)
                #expect(failed["attempts"] == .number(2))
                #expect(failed["status"] == .number(404))
                #expect(events.filter { $0.type == .notifyAttemptFailed }.count == 1)
                #expect(receiver.requests.count == 2, "no attempt after the last one")
                #expect(receiver.requests.allSatisfy { $0.header("Jobsd-Event") == "job.succeeded" })
                #expect(receiver.requests.allSatisfy { $0.header("Jobsd-Signature") == nil }, "no secret, no signature")
                let metrics = try await server.send("GET", "/metrics").text
                #expect(metrics.contains("jobsd_webhook_deliveries_total{outcome=\"failed\"} 1"))
            }
        }
    }

    @Test func twoNodesOnOnePostgreSQL_DeliverEachJobsWebhookOnce() async throws {
        let url = try await TestPostgres.freshDatabaseURL()
        try await WebhookReceiver.with { receiver in
            try await TestServer.with({
                $0.store = .postgres(url: url)
                $0.engine.nodeID = "node-a"
            }) { a in
                try await TestServer.with({
                    $0.store = .postgres(url: url)
                    $0.engine.nodeID = "node-b"
                }) { b in
                    var ids: [String] = []
                    for n in 0..<20 {
                        let node = n.isMultiple(of: 2) ? a : b
                        ids.append(try await node.submit(JobSpec(command: ["true"], notify: NotifySpec(url: receiver.url))).id)
                    }
                    for id in ids { _ = try await timeline(of: id, endingWith: .notifyDelivered, a.client()) }
                    let requests = receiver.requests
                    #expect(requests.count == 20, "one POST per job, whichever node sent it")
                    #expect(Set(requests.compactMap { $0.header("Jobsd-Delivery") }).count == 20)
                    for id in ids {
                        #expect(try await b.client().events(id).filter { $0.type.rawValue.hasPrefix("notify_") }.count == 1)
                    }
                }
            }
        }
    }

    @Test func aNotifyURLWhoseHostIsNotAllowed_IsA400NamingTheField() async throws {
        try await TestServer.with({ $0.webhooks.allow = WebhookAllowList(argument: "hooks.example.com, ci.example.com") }) { server in
            let cases: [(String, String)] = [
                (#"{"url":"http://127.0.0.1:9/hook"}"#, "notify.url"),
                (#"{"url":"ftp://hooks.example.com/x"}"#, "notify.url"),
                (#"{"url":"http://hooks.example.com:99999/x"}"#, "notify.url"),
                (#"{"url":"http:///nohost"}"#, "notify.url"),
                (#"{"url":"http://hooks.example.com/a b"}"#, "notify.url"),
                (#"{}"#, "notify.url"),
                (#"{"url":"http://hooks.example.com/","secret":"x"}"#, "notify.secret"),
                (#""http://hooks.example.com/""#, "notify"),
            ]
            for (notify, field) in cases {
                let response = try await server.send("POST", "/v1/jobs", body: #"{"command":["true"],"notify":"# + notify + "}")
                #expect(response.status == 400, "\(notify)")
                #expect(response.header("Content-Type") == "application/problem+json")
                #expect(try JSONValue.parse(response.body)["field"] == .string(field), "\(notify): \(response.text)")
            }
            let allowed = try await server.send(
                "POST", "/v1/jobs", body: #"{"command":["true"],"notify":{"url":"https://HOOKS.example.com:8443/done?x=1"}}"#)
            #expect(allowed.status == 201, "host names compare case-insensitively: \(allowed.text)")
        }
    }

    @Test func onANonLoopbackAddressWithoutWebhookAllow_EveryNotifyURLIsRefused() async throws {
        try await TestServer.with({ $0.http.host = "0.0.0.0" }) { server in
            let response = try await server.send(
                "POST", "/v1/jobs", body: #"{"command":["true"],"notify":{"url":"http://127.0.0.1:9/hook"}}"#)
            #expect(response.status == 400)
            #expect(try JSONValue.parse(response.body)["field"] == .string("notify.url"))
            #expect(response.text.contains("--webhook-allow"))
        }
    }

    @Test func aDeliveryPendingWhileTheReceiverIsDown_SurvivesAKill9_AndIsDeliveredOnceAfterTheRestart() async throws {
        // A port kept for the receiver, which is down until the test starts it there.
        let reservation = try PortReservation()
        defer { reservation.release() }
        let port = reservation.port
        let url = "http://127.0.0.1:\(port)/hook"
        let data = try TemporaryDirectory.make(prefix: "jobsd-webhook")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try await JobsdProcess.start(dataDirectory: data, arguments: ["--webhook-secret", Self.secret])
        let job = try await first.client().submit(JobSpec(command: ["sh", "-c", "exit 0"], notify: NotifySpec(url: url)))
        let before = try await timeline(of: job.id, endingWith: .notifyAttemptFailed, first.client())
        #expect(before.last?["status"] == .null, "no answer: the receiver is down")
        await first.signal(SIGKILL)

        try await WebhookReceiver.with(port: port) { receiver in
            reservation.release()
            let second = try await JobsdProcess.start(dataDirectory: data, arguments: ["--webhook-secret", Self.secret])
            defer { second.child.signal(SIGKILL) }
            let events = try await timeline(of: job.id, endingWith: .notifyDelivered, second.client())
            // One failed attempt at least before the kill (more when the machine was slow to kill).
            let failed = events.filter { $0.type == .notifyAttemptFailed }.count
            #expect(failed >= 1)
            #expect(events.last?["attempts"] == .number(Double(failed + 1)))
            let requests = receiver.requests
            #expect(requests.count == 1, "delivered once")
            let request = try #require(requests.first)
            #expect(request.header("Jobsd-Event") == "job.succeeded")
            #expect(request.header("Jobsd-Signature") == "sha256=" + (try await independentHMAC(request.body, key: Self.secret)))
            #expect(await second.stop().exitCode == 0)
        }
    }
}

/// Re-reads the job's timeline until its last event is `last`; returns it.
private func timeline(of id: String, endingWith last: JobEvent.Kind, _ client: JobsdClient) async throws -> [JobEvent] {
    var events: [JobEvent] = []
    try await eventually("the timeline of \(id) ending with \(last)", timeout: 60) {
        events = try await client.events(id)
        return events.last?.type == last
    }
    return events
}

/// HMAC-SHA256 of `body` keyed with `key`, in lower-case hex, computed by Python's `hmac` module:
/// not jobsd's code.
private func independentHMAC(_ body: [UInt8], key: String) async throws -> String {
    let directory = try scratchDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let (input, output) = (directory + "/body", directory + "/digest")
    FileManager.default.createFile(atPath: input, contents: Data(body))
    let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    defer { close(fd) }
    let script = "import hashlib, hmac, sys; print(hmac.new(sys.argv[1].encode(), open(sys.argv[2], 'rb').read(), hashlib.sha256).hexdigest())"
    let child = try ChildProcess.spawn(argv: ["/usr/bin/env", "python3", "-c", script, key, input], stdout: fd)
    let status = await child.wait()
    guard status.exitCode == 0 else { throw TestFailure("python3 hmac: \(status)") }
    return try String(contentsOfFile: output, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
}
