/// The events of `JobsdClient.changes`, as the server sends them; keep-alive comments are
/// skipped. The sequence ends when the server ends the stream (for instance after cutting off a
/// reader that fell too far behind: resume with the last event's `id`). Iterate it once.
public struct JobChangeSequence: AsyncSequence, Sendable {
    public typealias Element = JobChangeEvent
    public typealias Failure = ClientError

    let body: AsyncThrowingStream<[UInt8], any Error>

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: body.makeAsyncIterator()) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var body: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator
        /// Text received but not yet ended by a blank line.
        private var pending = ""

        init(body: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator) { self.body = body }

        public mutating func next() async throws(ClientError) -> JobChangeEvent? {
            while true {
                while let end = pending.range(of: "\n\n") {
                    let block = pending[..<end.lowerBound]
                    let event = try JobChangeEvent(block: block)
                    pending = String(pending[end.upperBound...])
                    if let event { return event }
                }
                let chunk: [UInt8]?
                do { chunk = try await body.next() } catch let error as ClientError { throw error } catch { throw .connection("\(error)") }
                guard let chunk else { return nil }
                pending += String(decoding: chunk, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            }
        }
    }
}
