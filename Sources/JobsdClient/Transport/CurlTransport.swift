import CCurl
import Dispatch
import Foundation

/// HTTP/1.1 over libcurl, for one server.
///
/// Each call runs `curl_easy_perform` off the cooperative pool (on a thread of its own, or on the
/// serial `queue` the transport was given) and is bridged to async code once, with a continuation. Easy handles are pooled per transport, so
/// sequential calls reuse the same keep-alive connection; concurrent calls use more handles.
public final class CurlTransport: Sendable {
    public let baseURL: String
    public let token: String?
    /// Whole-call timeout of `send`, in seconds. Streams have none (a follow may last hours).
    public let timeout: Double
    /// Timeout for establishing the TCP connection, for both `send` and `stream`.
    public let connectTimeout: Double

    /// Where blocking transfers run: nil, a thread each (see `perform`); else this serial queue,
    /// one transfer after another (jobsd's webhook deliveries: a queue of their own).
    private let queue: DispatchQueue?
    private let pool = EasyHandlePool()

    /// - Parameters:
    ///   - baseURL: scheme, host and port, e.g. `http://127.0.0.1:8080` (a trailing `/` is ignored).
    ///   - token: sent as `Authorization: Bearer <token>` unless a request sets `Authorization`.
    ///   - timeout: limit for a whole `send`, in seconds (long-polls wait up to 60 s).
    ///   - queue: a serial queue to run the transfers on, one at a time; nil: a thread each.
    public init(baseURL: String, token: String? = nil, timeout: Double = 120, connectTimeout: Double = 10, queue: DispatchQueue? = nil) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.token = token
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.queue = queue
    }

    /// Performs `request` and returns the whole response, whatever its status.
    ///
    /// Throws `.connection` when no response arrived (refused, reset, `timeout` passed) and
    /// `.cancelled` when the calling task is cancelled, which aborts the transfer.
    public func send(_ request: ClientRequest) async throws(ClientError) -> ClientResponse {
        let transfer = makeTransfer(request, timeout: timeout)
        let outcome: Result<ClientResponse, ClientError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                self.perform {
                    if let error = self.run(transfer) {
                        continuation.resume(returning: .failure(error))
                    } else {
                        continuation.resume(returning: .success(ClientResponse(status: transfer.head.status, headers: transfer.head.headers, body: transfer.body)))
                    }
                }
            }
        } onCancel: {
            transfer.abort()
        }
        return try outcome.get()
    }

    /// Performs `request` and returns as soon as the response head arrived; the body follows as
    /// chunks in `ClientStreamingResponse.body`.
    ///
    /// Cancelling the calling task before the head arrives aborts the transfer (`.cancelled`).
    /// Afterwards, cancelling the task that iterates `body`, or dropping `body`, aborts it.
    public func stream(_ request: ClientRequest) async throws(ClientError) -> ClientStreamingResponse {
        let transfer = makeTransfer(request, timeout: nil)
        let (body, chunks) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        chunks.onTermination = { termination in
            if case .cancelled = termination { transfer.abort() }
        }
        transfer.onChunk = { bytes in
            if case .terminated = chunks.yield(bytes) { return false }
            return true
        }
        let head: Result<CurlTransfer.Head, ClientError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                transfer.onHead = { continuation.resume(returning: .success($0)) }
                self.perform {
                    let error = self.run(transfer)
                    if !transfer.hasHead {
                        continuation.resume(returning: .failure(error ?? .connection("the server closed the connection without a response")))
                    }
                    chunks.finish(throwing: error)
                }
            }
        } onCancel: {
            transfer.abort()
        }
        let received = try head.get()
        return ClientStreamingResponse(status: received.status, headers: received.headers, body: body)
    }

    // MARK: - Helpers

    private func makeTransfer(_ request: ClientRequest, timeout: Double?) -> CurlTransfer {
        CurlTransfer(url: baseURL + request.path, request: request, token: token, timeout: timeout, connectTimeout: connectTimeout)
    }

    /// Runs one transfer on a pooled handle. Blocking: only called on `queue`.
    private func run(_ transfer: CurlTransfer) -> ClientError? {
        guard let handle = pool.checkout() else { return .connection("libcurl could not create a handle") }
        defer { pool.checkin(handle) }
        return transfer.perform(on: handle)
    }
}

extension CurlTransport {
    /// Runs a blocking `curl_easy_perform` on the transport's serial queue, or on a thread of its
    /// own. Not a concurrent Dispatch queue: on Linux those share their threads with the Swift
    /// cooperative pool, so a few long-polls would starve every Task in the process (seen with 2
    /// cores: 20 s stalls).
    func perform(_ work: @escaping @Sendable () -> Void) {
        if let queue {
            queue.async(execute: work)
            return
        }
        let thread = Thread(block: work)
        thread.name = "jobsd.client.curl"
        thread.stackSize = 512 * 1024
        thread.start()
    }
}
