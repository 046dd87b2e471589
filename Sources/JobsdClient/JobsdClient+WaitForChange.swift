import JobsdAPI

extension JobsdClient {
    /// Waits until the job is terminal or `timeout` seconds passed and returns it then (check
    /// `state.isTerminal`), like `wait(_:timeout:)`, but listens to `GET /v1/events?job=<id>`
    /// instead of long-polling: one connection for as long as the job runs, and the answer as soon
    /// as the terminal change is published. It subscribes before it reads the job, so a change
    /// between the two is not missed. When the stream ends early (the server restarted, or cut the
    /// stream off) or fails, it goes on with `wait(_:timeout:)` for the time left.
    /// `timeout: .infinity` waits as long as the job runs; 0 is a plain read.
    ///
    /// Cancellation: cancelling the calling task closes the stream; the long-poll fallback then
    /// throws `.cancelled`.
    public func waitForChange(_ id: String, timeout: Double = 60) async throws(ClientError) -> Job {
        let clock = ContinuousClock()
        let deadline = timeout.isFinite ? clock.now.advanced(by: .seconds(max(0, timeout))) : nil
        let changes = try await self.changes(jobs: [id])
        let current = try await job(id)
        if current.state.isTerminal || timeout <= 0 { return current }
        let terminal: Job? = await withTaskGroup(of: Job?.self) { group in
            group.addTask {
                do {
                    for try await change in changes where change.job.state.isTerminal { return change.job }
                } catch {}
                return nil
            }
            if let deadline {
                group.addTask {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    return nil
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if let terminal { return terminal }
        let remaining = deadline.map { max(0, Self.seconds(clock.now.duration(to: $0))) } ?? .infinity
        return try await wait(id, timeout: remaining)
    }
}
