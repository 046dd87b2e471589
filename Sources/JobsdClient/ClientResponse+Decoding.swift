import Foundation
import JobsdAPI

extension ClientResponse {
    /// The body decoded as `T` when the status is one of `expected`, else the matching error.
    func decoded<T: Decodable>(_ type: T.Type, expecting expected: Set<Int>) throws(ClientError) -> T {
        guard expected.contains(status) else { throw failure() }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            throw .decoding("\(error)")
        }
    }

    /// The error for an answer the call did not expect: `.problem` when the body is an RFC 9457
    /// problem, else `.unexpected` with the body text.
    func failure() -> ClientError {
        if let problem = try? JSONDecoder().decode(Problem.self, from: Data(body)) { return .problem(problem) }
        return .unexpected(status: status, body: text)
    }
}
