import Foundation
import JobsdAPI
import JobsdClient
import JobsdTesting
import Testing

/// `concurrency_key` / `concurrency_limit` (CONTRACT.md, "Orchestration: Concurrency keys").
@Suite struct ConcurrencyKeyTests {
    @Test func jobsOfOneKey_RunAtMostTheLimitAtOnce_AndStartInSubmissionOrder() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let order = scratch + "/order"
            let first = try await client.submit(JobSpec(
                command: Scripts.blockUntil(scratch + "/go", name: "a", log: order), concurrencyKey: "deploy"))
            try await client.waitForOutput(first.id, "ready")
            var later: [Job] = []
            for name in ["b", "c", "d"] {
                later.append(try await client.submit(JobSpec(command: Scripts.record(name, to: order), concurrencyKey: "deploy")))
            }
            #expect(later.allSatisfy { $0.concurrencyKey == "deploy" && $0.concurrencyLimit == 1 })
            for job in later { #expect(try await client.job(job.id).state == .queued, "the key's one slot is taken") }
            touch(scratch + "/go")
            for job in [first] + later { #expect(try await client.wait(job.id, timeout: 30).state == .succeeded) }
            #expect(lines(order) == ["a", "b", "c", "d"])
        }
    }

    @Test func aLaterJob_NeverOvertakesAnEarlierWaitingOneOfItsKey_WhateverItsLimit() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let running = try await client.submit(JobSpec(command: Scripts.blockUntil(scratch + "/go"), concurrencyKey: "k"))
            try await client.waitForOutput(running.id, "ready")
            let waiting = try await client.submit(JobSpec(command: ["true"], concurrencyKey: "k", concurrencyLimit: 1))
            let generous = try await client.submit(JobSpec(command: ["true"], concurrencyKey: "k", concurrencyLimit: 5))
            // A job that needs no wait at all starts meanwhile (the engine did a pass).
            #expect(try await client.wait(try await client.submit(JobSpec(command: ["true"])).id, timeout: 30).state == .succeeded)
            #expect(try await client.job(waiting.id).state == .queued)
            #expect(try await client.job(generous.id).state == .queued, "its own limit would let it run, but an earlier job of its key waits")
            touch(scratch + "/go")
            let a = try await client.wait(waiting.id, timeout: 30), b = try await client.wait(generous.id, timeout: 30)
            #expect(a.state == .succeeded && b.state == .succeeded)
            #expect(try #require(a.startedAt) <= (try #require(b.startedAt)))
        }
    }

    @Test func theLimitInForce_IsThatOfTheJobBeingStarted() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let one = try await client.submit(JobSpec(command: Scripts.blockUntil(scratch + "/go"), concurrencyKey: "k", concurrencyLimit: 1))
            try await client.waitForOutput(one.id, "ready")
            let two = try await client.submit(JobSpec(command: Scripts.blockUntil(scratch + "/go"), concurrencyKey: "k", concurrencyLimit: 2))
            try await client.waitForOutput(two.id, "ready")  // one running < its limit of 2
            let third = try await client.submit(JobSpec(command: ["true"], concurrencyKey: "k", concurrencyLimit: 2))
            #expect(try await client.wait(try await client.submit(JobSpec(command: ["true"])).id, timeout: 30).state == .succeeded)
            #expect(try await client.job(third.id).state == .queued, "two running = its limit")
            touch(scratch + "/go")
            #expect(try await client.wait(third.id, timeout: 30).state == .succeeded)
        }
    }

    @Test func aBusyKey_DoesNotDelayJobsWithOtherKeysOrNone() async throws {
        try await TestServer.with { server in
            let client = server.client()
            let scratch = try scratchDirectory()
            let busy = try await client.submit(JobSpec(command: Scripts.blockUntil(scratch + "/go"), concurrencyKey: "busy"))
            try await client.waitForOutput(busy.id, "ready")
            var waiting: [String] = []
            for _ in 0..<200 { waiting.append(try await client.submit(JobSpec(command: ["true"], concurrencyKey: "busy")).id) }
            let other = try await client.submit(JobSpec(command: ["true"], concurrencyKey: "other"))
            let none = try await client.submit(JobSpec(command: ["true"]))
            #expect(try await client.wait(other.id, timeout: 30).state == .succeeded)
            #expect(try await client.wait(none.id, timeout: 30).state == .succeeded)
            #expect(try await client.job(waiting[0]).state == .queued)
            touch(scratch + "/go")
            #expect(try await client.wait(waiting.last!, timeout: 60).state == .succeeded)
        }
    }

    @Test func aQueueOfTenThousandJobsOnABusyKey_DelaysNoJobWithAnotherKeyOrNone() async throws {
        try await TestServer.with({ $0.engine.queueLimit = 20_000 }) { server in
            try await checkADeepQueueOnOneKeyDelaysNoOtherKey([server.client()], thousands: 10)
        }
    }

    @Test func orchestrationFields_AreValidated_WithA400NamingTheField() async throws {
        try await TestServer.with { server in
            let cases: [(String, String)] = [
                (#"{"command":["true"],"concurrency_limit":2}"#, "concurrency_limit"),
                (#"{"command":["true"],"concurrency_key":"k","concurrency_limit":0}"#, "concurrency_limit"),
                (#"{"command":["true"],"concurrency_key":""}"#, "concurrency_key"),
                (#"{"command":["true"],"concurrency_key":"\#(String(repeating: "x", count: 201))"}"#, "concurrency_key"),
                (#"{"command":["true"],"run_at":"2030-01-01T00:00:00Z","delay_seconds":5}"#, "delay_seconds"),
                (#"{"command":["true"],"run_at":"tomorrow"}"#, "run_at"),
                (#"{"command":["true"],"delay_seconds":0}"#, "delay_seconds"),
                (#"{"command":["true"],"retry":{"max_attempts":0}}"#, "retry.max_attempts"),
                (#"{"command":["true"],"retry":{"max_attempts":21}}"#, "retry.max_attempts"),
                (#"{"command":["true"],"retry":{"max_attempts":2,"backoff_seconds":-1}}"#, "retry.backoff_seconds"),
                (#"{"command":["true"],"retry":{"max_attempts":2,"on":["cancelled"]}}"#, "retry.on"),
                (#"{"command":["true"],"retry":{"max_attempts":2,"tries":3}}"#, "retry.tries"),
                (#"{"command":["true"],"retry":{}}"#, "retry.max_attempts"),
            ]
            for (body, field) in cases {
                let response = try await server.send("POST", "/v1/jobs", body: body)
                #expect(response.status == 400, "\(body)")
                #expect(try decodeProblem(response).field == field, "\(body)")
            }
        }
    }
}
