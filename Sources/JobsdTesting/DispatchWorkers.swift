import Dispatch

/// Runs `body(worker)` for `count` workers at once, each on a Dispatch queue of its own (so they
/// may block in socket calls, off the cooperative pool), and returns when all have finished.
public func runDispatchWorkers(count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        let group = DispatchGroup()
        for worker in 0..<count {
            DispatchQueue(label: "test-worker-\(worker)").async(group: group) { body(worker) }
        }
        group.notify(queue: .global()) { done.resume() }
    }
}
