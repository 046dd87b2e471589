import Testing
@testable import JobsdWebhooks

/// The pure parts of webhook delivery: the signature, the backoff schedule, the allow-list and URL
/// checks. Delivery itself is tested through a real jobsd (IntegrationTests/WebhookTests).
@Suite struct WebhookPolicyTests {
    @Test func theSignature_IsTheHexHMACSHA256OfTheBody_AsInRFC4231() {
        // RFC 4231, test case 2.
        #expect(WebhookSignature.header(secret: "Jefe", body: Array("what do ya want for nothing?".utf8))
            == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func theBackoff_StartsAtOneSecond_Doubles_AndStopsAtFiveMinutes() {
        let configuration = WebhookConfiguration()
        #expect((1...10).map(configuration.backoff(afterAttempt:)) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300])
        #expect(configuration.backoff(afterAttempt: 100) == 300)
    }

    @Test func theAllowList_ComparesHostNamesCaseInsensitively_AndStarAllowsAny() throws {
        let list = WebhookAllowList(argument: " Hooks.Example.com ,ci.example.com")
        try list.check("https://hooks.example.com/x")
        try list.check("http://user:pw@CI.example.com:8080")
        #expect(throws: WebhookTargetError.self) { try list.check("https://evil.example.com/hooks.example.com") }
        #expect(throws: WebhookTargetError.self) { try list.check("https://hooks.example.com.evil.net/") }
        #expect(WebhookAllowList(argument: "a,*") == .any)
        #expect(WebhookAllowList(argument: "") == .hosts([]))
        #expect(throws: WebhookTargetError.self) { try WebhookAllowList.forListening(onLoopback: false).check("http://127.0.0.1/") }
        try WebhookAllowList.forListening(onLoopback: true).check("http://[::1]:9/x")
    }

    @Test func aTarget_SplitsIntoOriginAndPath_DroppingTheFragment() throws {
        let target = try WebhookTarget("https://Hooks.example.com:8443/a/b?c=d#frag")
        #expect(target.host == "hooks.example.com")
        #expect(target.origin == "https://Hooks.example.com:8443")
        #expect(target.pathAndQuery == "/a/b?c=d")
        #expect(try WebhookTarget("http://[::1]:9").host == "::1")
        for bad in ["ftp://x/", "http://", "http://:80/", "http://x:0/", "http://x:port/", "http://a b/", "http://[::1/"] {
            #expect(throws: WebhookTargetError.self, "\(bad)") { try WebhookTarget(bad) }
        }
    }
}
