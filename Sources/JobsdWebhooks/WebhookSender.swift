import Dispatch
import JobsdClient
import JobsdStore

/// Makes one attempt of a delivery: `POST` the body to the URL through libcurl (on `queue`, a
/// serial Dispatch queue of the caller's, never the cooperative pool or an HTTP loop), with
/// `Content-Type: application/json`, `Jobsd-Event`, `Jobsd-Delivery` and, with a secret,
/// `Jobsd-Signature`. Redirects are not followed (a `3xx` is a failed attempt).
///
/// Timeout: `attemptTimeout` for the whole exchange, connect included. Cancellation: cancelling
/// the calling task aborts the transfer (`.cancelled`; nothing is known of the receiver's side).
struct WebhookSender: Sendable {
    enum Outcome: Sendable, Equatable {
        /// A 2xx answer.
        case delivered(status: Int)
        /// Any other answer (`status`), or none (`status` nil; `error` says why).
        case failed(status: Int?, error: String)
        case cancelled
    }

    var secret: String?
    var attemptTimeout: Double

    func attempt(_ delivery: WebhookDelivery, on queue: DispatchQueue) async -> Outcome {
        let target: WebhookTarget
        do { target = try WebhookTarget(delivery.url) } catch { return .failed(status: nil, error: "invalid URL: \(error)") }
        let body = Array(delivery.body.utf8)
        var headers: [(String, String)] = [
            ("Content-Type", "application/json"), ("User-Agent", "jobsd"), ("Jobsd-Event", delivery.event),
            ("Jobsd-Delivery", delivery.id), ("Expect", ""),
        ]
        if let secret { headers.append(("Jobsd-Signature", WebhookSignature.header(secret: secret, body: body))) }
        let transport = CurlTransport(baseURL: target.origin, timeout: attemptTimeout, connectTimeout: attemptTimeout, queue: queue)
        do {
            let response = try await transport.send(ClientRequest(method: "POST", path: target.pathAndQuery, headers: headers, body: body))
            if (200..<300).contains(response.status) { return .delivered(status: response.status) }
            return .failed(status: response.status, error: "the receiver answered \(response.status)")
        } catch .cancelled {
            return .cancelled
        } catch {
            return .failed(status: nil, error: "\(error)")
        }
    }
}
