/// One file of the web UI, embedded in the binary at build time (Package.swift's
/// `resources: [.embedInCode(...)]`), with what `GET /ui/<name>` answers for it: its content type
/// and a strong ETag computed once from its bytes, so a browser revalidates (`Cache-Control:
/// no-cache`) and gets `304 Not Modified` until the binary changes.
struct UIAsset: Sendable {
    let name: String
    let contentType: String
    let bytes: [UInt8]
    let etag: String

    init(name: String, contentType: String, bytes: [UInt8]) {
        self.name = name
        self.contentType = contentType
        self.bytes = bytes
        self.etag = "\"" + Self.fnv1a64Hex(bytes) + "\""
    }

    /// Every file of the UI by the name it is served under (`/ui/` serves `index.html`).
    static let all: [String: UIAsset] = Dictionary(uniqueKeysWithValues: [
        UIAsset(name: "index.html", contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html),
        UIAsset(name: "app.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.app_css),
        UIAsset(name: "favicon.svg", contentType: "image/svg+xml", bytes: PackageResources.favicon_svg),
        UIAsset(name: "app.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.app_js),
        UIAsset(name: "api.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.api_js),
        UIAsset(name: "events.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.events_js),
        UIAsset(name: "dom.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.dom_js),
        UIAsset(name: "argv.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.argv_js),
        UIAsset(name: "job-table.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.job_table_js),
        UIAsset(name: "jobs-page.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.jobs_page_js),
        UIAsset(name: "submit-form.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.submit_form_js),
        UIAsset(name: "job-page.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.job_page_js),
        UIAsset(name: "timeline.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.timeline_js),
        UIAsset(name: "groups-page.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.groups_page_js),
    ].map { ($0.name, $0) })

    /// 64-bit FNV-1a: a cheap, stable fingerprint of the file (an ETag needs no cryptographic hash).
    static func fnv1a64Hex(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
