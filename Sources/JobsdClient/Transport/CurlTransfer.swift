import CCurl
import Foundation
import Synchronization

/// One request/response exchange driven by `curl_easy_perform`, and the state libcurl's C
/// callbacks share with it through an unmanaged pointer.
///
/// Abort: `abort()` may be called from any thread; the transfer stops at curl's next write or
/// progress callback (at most about a second later on an idle connection) with `.cancelled`.
final class CurlTransfer: @unchecked Sendable {
    /// The head of the final (non-1xx) response.
    struct Head: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
    }

    // Every `var` below is touched only by the thread running `perform`, or before it starts.
    // `aborted` is the one field other threads touch.
    private let aborted = Atomic<Bool>(false)
    private var status = 0
    private var headers: [(name: String, value: String)] = []
    private var headDelivered = false
    /// Called once, on the perform thread, when the final response head is complete.
    var onHead: ((Head) -> Void)?
    /// Receives body bytes; returns false to abort. nil: bytes are collected into `body`.
    var onChunk: (([UInt8]) -> Bool)?
    private(set) var body: [UInt8] = []
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CCURL_ERROR_SIZE))

    let url: String
    let request: ClientRequest
    let token: String?
    /// Whole-transfer timeout in seconds; nil: none (streams), only the connect timeout applies.
    let timeout: Double?
    let connectTimeout: Double

    init(url: String, request: ClientRequest, token: String?, timeout: Double?, connectTimeout: Double) {
        self.url = url
        self.request = request
        self.token = token
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        errorBuffer.initialize(to: 0)
    }

    deinit { errorBuffer.deallocate() }

    func abort() { aborted.store(true, ordering: .relaxed) }

    var isAborted: Bool { aborted.load(ordering: .relaxed) }

    /// Whether `onHead` ran (the final response head arrived).
    var hasHead: Bool { headDelivered }

    /// The head as received so far (complete once `hasHead`).
    var head: Head { Head(status: status, headers: headers) }

    // MARK: - Perform

    /// Configures `handle` for this exchange and runs it to completion. Blocks the calling
    /// thread: call it on a Dispatch queue, never on the cooperative pool.
    func perform(on handle: UnsafeMutableRawPointer) -> ClientError? {
        let context = Unmanaged.passRetained(self)
        defer { context.release() }
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for line in headerLines() { headerList = curl_slist_append(headerList, line) }

        configure(handle, context: context.toOpaque(), headerList: headerList)
        let code = curl_easy_perform(handle)
        if code == CURLE_OK { return nil }
        if isAborted { return .cancelled }
        return .connection(message(for: code, handle: handle))
    }

    private func configure(_ h: UnsafeMutableRawPointer, context: UnsafeMutableRawPointer, headerList: UnsafeMutablePointer<curl_slist>?) {
        ccurl_setopt_string(h, CURLOPT_URL, url)
        ccurl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(h, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        ccurl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBuffer)
        ccurl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
        if let timeout { ccurl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(timeout * 1000)) }

        ccurl_setopt_data_callback(h, CURLOPT_HEADERFUNCTION) { buffer, size, count, context in
            Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
                .receiveHeaderLine(UnsafeRawBufferPointer(start: buffer, count: size * count))
            return size * count
        }
        ccurl_setopt_pointer(h, CURLOPT_HEADERDATA, context)
        ccurl_setopt_data_callback(h, CURLOPT_WRITEFUNCTION) { buffer, size, count, context in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
            let accepted = transfer.receiveBody(UnsafeRawBufferPointer(start: buffer, count: size * count))
            return accepted ? size * count : ccurl_writefunc_error()
        }
        ccurl_setopt_pointer(h, CURLOPT_WRITEDATA, context)
        ccurl_setopt_long(h, CURLOPT_NOPROGRESS, 0)
        ccurl_setopt_xferinfo_callback(h) { context, _, _, _, _ in
            Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue().isAborted ? 1 : 0
        }
        ccurl_setopt_pointer(h, CURLOPT_XFERINFODATA, context)

        switch request.method {
        case "GET" where request.body == nil: break
        case "HEAD": ccurl_setopt_long(h, CURLOPT_NOBODY, 1)
        default:
            if request.method == "POST" || request.body != nil {
                let body = request.body ?? []
                ccurl_setopt_off_t(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
                if body.isEmpty {
                    ccurl_setopt_string(h, CURLOPT_COPYPOSTFIELDS, "")
                } else {
                    // COPYPOSTFIELDS copies POSTFIELDSIZE_LARGE bytes now, so embedded NULs are fine.
                    _ = body.withUnsafeBytes { ccurl_setopt_pointer(h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress!)) }
                }
            }
            if request.method != "POST" { ccurl_setopt_string(h, CURLOPT_CUSTOMREQUEST, request.method) }
        }
        ccurl_setopt_slist(h, CURLOPT_HTTPHEADER, headerList)
    }

    /// Header lines for CURLOPT_HTTPHEADER: the caller's, then `Authorization` unless given.
    /// `Name:` (empty value) tells curl to drop a header it would add itself.
    private func headerLines() -> [String] {
        var lines = request.headers.map { $0.1.isEmpty ? "\($0.0):" : "\($0.0): \($0.1)" }
        if let token, !request.headers.contains(where: { $0.0.lowercased() == "authorization" }) {
            lines.append("Authorization: Bearer \(token)")
        }
        return lines
    }

    private func message(for code: CURLcode, handle: UnsafeMutableRawPointer) -> String {
        if code == CURLE_COULDNT_CONNECT {
            var osErrno = 0
            ccurl_getinfo_long(handle, CURLINFO_OS_ERRNO, &osErrno)
            if osErrno != 0 { return String(cString: strerror(Int32(osErrno))) }
        }
        let detail = String(cString: errorBuffer)
        return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
    }

    // MARK: - Callbacks (perform thread)

    /// One header line (with CRLF) of any response, interim ones included. A status line starts
    /// a new head; the blank line ends it; lines after the final head (trailers) are ignored.
    private func receiveHeaderLine(_ raw: UnsafeRawBufferPointer) {
        var end = raw.count
        while end > 0, raw[end - 1] == 0x0A || raw[end - 1] == 0x0D { end -= 1 }
        let line = String(decoding: raw[..<end], as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            let parts = line.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = []
        } else if line.isEmpty {
            guard !headDelivered, !(100..<200).contains(status) else { return }
            headDelivered = true
            onHead?(head)
        } else if !headDelivered, let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append((name: name, value: value))
        }
    }

    private func receiveBody(_ raw: UnsafeRawBufferPointer) -> Bool {
        guard !isAborted else { return false }
        guard let onChunk else {
            body.append(contentsOf: raw)
            return true
        }
        return onChunk(Array(raw))
    }
}
