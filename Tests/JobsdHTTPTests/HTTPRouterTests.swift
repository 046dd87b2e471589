import Testing
@testable import JobsdHTTP

@Suite struct HTTPRouterTests {
    private var router: HTTPRouter {
        var router = HTTPRouter()
        router.add("GET", "/v1/jobs/{id}") { .json("\"param:\($0.pathParameters["id"]!)\"") }
        router.add("DELETE", "/v1/jobs/{id}") { _ in .json("\"deleted\"") }
        router.add("GET", "/v1/jobs/stats") { _ in .json("\"literal\"") }
        router.add("POST", "/v1/jobs") { _ in .json(status: 201, "{}") }
        return router
    }

    private func body(_ response: HTTPResponse) -> String {
        guard case .bytes(let bytes) = response.body else { return "<stream>" }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func handle_FillsPathParameters_AndPrefersLiteralSegments() async {
        #expect(body(await router.handle(HTTPRequest(method: "GET", target: "/v1/jobs/abc"))) == "\"param:abc\"")
        #expect(body(await router.handle(HTTPRequest(method: "GET", target: "/v1/jobs/stats"))) == "\"literal\"")
    }

    @Test func handle_Answers404Problem_ForAnUnknownPath() async {
        for target in ["/nope", "/v1/jobs/", "/v1/jobs/a/b"] {
            let response = await router.handle(HTTPRequest(method: "GET", target: target))
            #expect(response.status == 404)
            #expect(response.headers["Content-Type"] == "application/problem+json")
        }
    }

    @Test func handle_Answers405WithAllow_ForAKnownPathAndAnotherMethod() async {
        let response = await router.handle(HTTPRequest(method: "PUT", target: "/v1/jobs/abc"))
        #expect(response.status == 405)
        #expect(response.headers["Allow"] == "GET, HEAD, DELETE")
        #expect(body(response).contains("\"status\":405"))
    }

    @Test func handle_ServesHEADWithTheGETHandler() async {
        #expect(await router.handle(HTTPRequest(method: "HEAD", target: "/v1/jobs/x")).status == 200)
    }

    @Test func handleImmediately_UsesTheRoutesImmediateHandler_AndAnswers404And405Itself() {
        var router = self.router
        router.add("GET", "/fast/{id}", immediate: { .json("\"now:\($0.pathParameters["id"]!)\"") }) { _ in .json("\"later\"") }
        #expect(router.handleImmediately(HTTPRequest(method: "GET", target: "/fast/7")).map(body) == "\"now:7\"")
        #expect(router.handleImmediately(HTTPRequest(method: "HEAD", target: "/fast/7")).map(body) == "\"now:7\"")
        #expect(router.handleImmediately(HTTPRequest(method: "GET", target: "/v1/jobs/abc")) == nil)  // no immediate handler
        #expect(router.handleImmediately(HTTPRequest(method: "GET", target: "/nope"))?.status == 404)
        #expect(router.handleImmediately(HTTPRequest(method: "PUT", target: "/fast/7"))?.status == 405)
    }

    @Test func addImmediate_AnswersOnTheLoopAndInATask_WithTheSameHandler() async {
        var router = self.router
        router.addImmediate("GET", "/now") { _ in .json("\"now\"") }
        #expect(router.handleImmediately(HTTPRequest(method: "GET", target: "/now")).map(body) == "\"now\"")
        #expect(body(await router.handle(HTTPRequest(method: "GET", target: "/now"))) == "\"now\"")
        #expect(router.handleImmediately(HTTPRequest(method: "GET", target: "/v1/jobs/stats")) == nil)  // a plain `add`
    }

    @Test func pattern_NamesTheMatchingRoute() {
        #expect(router.pattern(for: "/v1/jobs/abc") == "/v1/jobs/{id}")
        #expect(router.pattern(for: "/v1/jobs") == "/v1/jobs")
        #expect(router.pattern(for: "/other") == nil)
        #expect(router.pattern(for: "/v1/jobs/") == nil)
        #expect(router.pattern(for: "/v1/jobs/a/b") == nil)
    }

    @Test func problem_IsRFC9457JSON_WithEscapedStringsAndExtraMembers() {
        let response = HTTPResponse.problem(status: 409, detail: "job is \"done\"\n", extra: [("state", "succeeded")],
                                            extraJSON: [("exit_code", "0")])
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(body(response) == #"{"type":"about:blank","title":"Conflict","status":409,"detail":"job is \"done\"\n","state":"succeeded","exit_code":0}"#)
    }
}
