import Dispatch

/// A serial queue that owns a set of connections: their sources fire on it, their state is only
/// touched on it, and one timer on it enforces their timeouts (no per-request Dispatch objects).
final class EventLoop: @unchecked Sendable {
    // Every `var` below, and `readBuffer`'s contents, is only touched on `queue`.
    let queue: DispatchQueue
    /// Scratch buffer every read on this loop lands in before it is fed to a decoder.
    let readBuffer: UnsafeMutableRawBufferPointer
    var dateCache = HTTPDateCache()
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]
    private let timer: any DispatchSourceTimer

    init(index: Int, tick: DispatchTimeInterval) {
        queue = DispatchQueue(label: "jobsd.http.loop.\(index)")
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + tick, repeating: tick, leeway: .milliseconds(10))
        timer.setEventHandler { [unowned self] in
            let now = monotonicNanoseconds()
            for connection in connections.values { connection.checkTimeout(now: now) }
        }
        timer.activate()
    }

    deinit { readBuffer.deallocate() }

    /// On `queue`.
    func add(_ connection: HTTPConnection) { connections[ObjectIdentifier(connection)] = connection }

    /// On `queue`.
    func remove(_ connection: HTTPConnection) { connections[ObjectIdentifier(connection)] = nil }

    /// Closes idle connections and makes the others close after their current response.
    func drain() {
        queue.async { [self] in
            for connection in connections.values { connection.beginDrain() }
        }
    }

    /// Closes every connection at once (cancelling their handler Tasks) and stops the timer.
    func closeAll() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async { [self] in
                for connection in connections.values { connection.close() }
                timer.cancel()
                done.resume()
            }
        }
    }
}
