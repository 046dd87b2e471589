/// Output chunks of `JobsdClient.followLogs`, as the server sends them.
public struct LogFollowSequence: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = ClientError

    let transport: CurlTransport
    let request: ClientRequest

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(transport: transport, request: request) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        private enum Phase {
            case notStarted
            case streaming(AsyncThrowingStream<[UInt8], any Error>.AsyncIterator)
            case finished
        }

        let transport: CurlTransport
        let request: ClientRequest
        private var phase = Phase.notStarted

        init(transport: CurlTransport, request: ClientRequest) {
            self.transport = transport
            self.request = request
        }

        public mutating func next() async throws(ClientError) -> [UInt8]? {
            do {
                switch phase {
                case .finished:
                    return nil
                case .notStarted:
                    phase = .finished
                    let response = try await transport.stream(request)
                    guard response.status == 200 else { throw try await response.collect().failure() }
                    phase = .streaming(response.body.makeAsyncIterator())
                    return try await next()
                case var .streaming(body):
                    phase = .finished
                    guard let chunk = try await body.next() else { return nil }
                    phase = .streaming(body)
                    return chunk
                }
            } catch let error as ClientError {
                throw error
            } catch {
                throw .connection("\(error)")
            }
        }
    }
}
