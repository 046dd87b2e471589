import JobsdAPI

/// The jobs of `JobsdClient.list`, fetched lazily page by page following `next_cursor`.
public struct JobListSequence: AsyncSequence, Sendable {
    public typealias Element = Job
    public typealias Failure = ClientError

    let client: JobsdClient
    let states: [JobState]
    let labels: [String: String]
    let limit: Int?
    let pageSize: Int

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(sequence: self) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let sequence: JobListSequence
        private var buffer: ArraySlice<Job> = []
        private var cursor: String?
        private var lastPageSeen = false
        private var delivered = 0

        init(sequence: JobListSequence) { self.sequence = sequence }

        public mutating func next() async throws(ClientError) -> Job? {
            let wanted = sequence.limit.map { $0 - delivered } ?? sequence.pageSize
            guard wanted > 0 else { return nil }
            if buffer.isEmpty {
                guard !lastPageSeen else { return nil }
                let page = try await sequence.client.listPage(
                    states: sequence.states, labels: sequence.labels, limit: Swift.min(sequence.pageSize, wanted), cursor: cursor)
                buffer = page.jobs[...]
                cursor = page.nextCursor
                // An empty page ends the listing even with a cursor, so a server bug cannot loop us.
                lastPageSeen = cursor == nil || page.jobs.isEmpty
            }
            guard let job = buffer.popFirst() else { return nil }
            delivered += 1
            return job
        }
    }
}
