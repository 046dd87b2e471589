/// A response whose head has arrived and whose body is still coming.
///
/// `body` yields chunks as curl receives them (unbounded buffer) and finishes when the response
/// ends; it throws `ClientError` when the transfer fails midway. Cancelling the task that
/// iterates `body`, or dropping `body`, aborts the transfer and closes its connection.
public struct ClientStreamingResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: AsyncThrowingStream<[UInt8], any Error>

    public init(status: Int, headers: [(name: String, value: String)], body: AsyncThrowingStream<[UInt8], any Error>) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of the header field `name`, compared case-insensitively.
    public func header(_ name: String) -> String? { headers.firstValue(of: name) }

    /// Reads the rest of the body into one response (used for error answers of streaming calls).
    public func collect() async throws(ClientError) -> ClientResponse {
        var bytes: [UInt8] = []
        do {
            for try await chunk in body { bytes += chunk }
        } catch let error as ClientError {
            throw error
        } catch {
            throw .connection("\(error)")
        }
        return ClientResponse(status: status, headers: headers, body: bytes)
    }
}
