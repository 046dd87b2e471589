import CCurl
import Foundation

/// Idle curl easy handles of one transport. A handle keeps its open connections across
/// `curl_easy_reset`, so checking the same handle out again reuses the keep-alive connection.
final class EasyHandlePool: @unchecked Sendable {
    /// Most idle handles kept; extra ones (after a burst of concurrent calls) are cleaned up.
    static let maximumIdle = 16

    // `lock` guards `idle`. A handle is owned by exactly one transfer between checkout and checkin.
    private let lock = NSLock()
    private var idle: [UnsafeMutableRawPointer] = []

    private static let globalInit: Void = { _ = ccurl_global_init_all() }()

    init() { _ = Self.globalInit }

    deinit {
        for handle in idle { curl_easy_cleanup(handle) }
    }

    /// An idle handle, or a new one; nil only if libcurl cannot allocate.
    func checkout() -> UnsafeMutableRawPointer? {
        if let handle = lock.withLock({ idle.popLast() }) { return handle }
        return curl_easy_init()
    }

    /// Resets the handle's options (keeping its connections) and keeps it for the next call.
    func checkin(_ handle: UnsafeMutableRawPointer) {
        curl_easy_reset(handle)
        let kept = lock.withLock {
            guard idle.count < Self.maximumIdle else { return false }
            idle.append(handle)
            return true
        }
        if !kept { curl_easy_cleanup(handle) }
    }
}
