import Foundation
import JobsdClient
import JobsdTesting
import Testing

/// `GET /ui/`: the web UI's files, embedded in the binary, served without a token, with their
/// content types, a strict Content-Security-Policy and ETag revalidation. (What the page does in
/// a browser is tested by Tests/Browser with headless Chromium.)
@Suite struct WebUITests {
    /// Every file the page loads: index.html's src/href attributes and the modules' imports.
    private func referencedFiles(_ server: TestServer) async throws -> Set<String> {
        var found: Set<String> = []
        var pending = ["index.html"]
        while let name = pending.popLast() {
            let response = try await server.send("GET", "/ui/\(name)")
            #expect(response.status == 200, "\(name)")
            let text = String(decoding: response.body, as: UTF8.self)
            let pattern = #/(?:src|href)="([a-z0-9.-]+\.[a-z]+)"|from '\./([a-z0-9.-]+\.js)'/#
            for match in text.matches(of: pattern) {
                let file = String(match.output.1 ?? match.output.2 ?? "")
                if found.insert(file).inserted { pending.append(file) }
            }
        }
        return found
    }

    @Test func theUIFilesAreServedWithoutAToken_WhileTheAPIStillNeedsOne() async throws {
        try await TestServer.with({ $0.token = "s3cret" }) { server in
            let anonymous = JobsdClient(baseURL: server.baseURL).transport
            let page = try await anonymous.send(ClientRequest(path: "/ui/"))
            #expect(page.status == 200)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            #expect(String(decoding: page.body, as: UTF8.self).contains(#"<script type="module" src="app.js">"#))
            #expect(try await anonymous.send(ClientRequest(path: "/ui/app.js")).status == 200)
            #expect(try await anonymous.send(ClientRequest(path: "/v1/jobs")).status == 401)
            // An open prefix must not open anything else: unknown names under /ui/ are 404s, and
            // API paths stay closed whatever precedes them.
            #expect(try await anonymous.send(ClientRequest(path: "/ui/nope.js")).status == 404)
            #expect(try await anonymous.send(ClientRequest(path: "/ui/v1/jobs")).status == 404)
        }
    }

    @Test func theRootAndUIWithoutASlash_RedirectToTheUI() async throws {
        try await TestServer.with({ $0.token = "s3cret" }) { server in
            let anonymous = JobsdClient(baseURL: server.baseURL).transport
            for path in ["/", "/ui"] {
                let response = try await anonymous.send(ClientRequest(path: path))
                #expect(response.status == 302, "\(path)")
                #expect(response.header("Location") == "/ui/", "\(path)")
            }
        }
    }

    @Test func everyFileThePageLoads_HasItsContentType_AStrictCSP_AndAnETag() async throws {
        try await TestServer.with { server in
            let files = try await referencedFiles(server)
            #expect(files.isSuperset(of: ["app.css", "app.js", "favicon.svg", "api.js", "events.js", "job-page.js", "timeline.js"]))
            let types = ["js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "svg": "image/svg+xml"]
            for file in files {
                let response = try await server.send("GET", "/ui/\(file)")
                let ext = String(file.split(separator: ".").last ?? "")
                #expect(response.header("Content-Type") == types[ext], "\(file)")
                #expect(response.header("Cache-Control") == "no-cache", "\(file)")
                #expect(response.header("X-Content-Type-Options") == "nosniff", "\(file)")
                let csp = try #require(response.header("Content-Security-Policy"))
                #expect(csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"))
                #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains("http"))
                let etag = try #require(response.header("ETag"))
                #expect(etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count == 18, "\(file): \(etag)")
            }
        }
    }

    @Test func theIndexHasNoInlineScriptOrStyle_AndLoadsNothingFromAnotherHost() async throws {
        try await TestServer.with { server in
            let html = String(decoding: try await server.send("GET", "/ui/").body, as: UTF8.self)
            #expect(!html.contains("<style"))
            #expect(!html.contains(" style="))
            #expect(html.firstMatch(of: #/\son[a-z]+=/#) == nil)  // no onclick= and the like
            #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"))
            let scripts = html.matches(of: /<script([^>]*)>/).map { String($0.output.1) }
            #expect(!scripts.isEmpty)
            #expect(scripts.allSatisfy { $0.contains("src=") })
        }
    }

    @Test func aMatchingIfNoneMatch_Gets304WithoutABody_AndAStaleOneTheFile() async throws {
        try await TestServer.with { server in
            let first = try await server.send("GET", "/ui/app.css")
            let etag = try #require(first.header("ETag"))
            for value in [etag, "W/\(etag)", "\"other\", \(etag)", "*"] {
                let again = try await server.send("GET", "/ui/app.css", headers: [("If-None-Match", value)])
                #expect(again.status == 304, "\(value)")
                #expect(again.body.isEmpty)
                #expect(again.header("ETag") == etag)
            }
            let stale = try await server.send("GET", "/ui/app.css", headers: [("If-None-Match", "\"0000000000000000\"")])
            #expect(stale.status == 200)
            #expect(stale.body == first.body)
            let otherFile = try await server.send("GET", "/ui/app.js", headers: [("If-None-Match", etag)])
            #expect(otherFile.status == 200)
        }
    }

    @Test func HEADOfAUIFile_AnswersTheHeadersOfGET() async throws {
        try await TestServer.with { server in
            let get = try await server.send("GET", "/ui/index.html")
            let head = try await server.send("HEAD", "/ui/index.html")
            #expect(head.status == 200)
            #expect(head.header("ETag") == get.header("ETag"))
            #expect(head.header("Content-Length") == String(get.body.count))
        }
    }
}
