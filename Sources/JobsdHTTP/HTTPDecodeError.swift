/// Why a request could not be decoded, with the status the server answers before closing.
/// `status` is one of 400, 413, 431, 501 and 505; `detail` is one sentence for the problem body.
public struct HTTPDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var detail: String

    public init(status: Int, detail: String) {
        self.status = status
        self.detail = detail
    }

    static func badRequest(_ detail: String) -> HTTPDecodeError { .init(status: 400, detail: detail) }

    public var description: String { "\(status): \(detail)" }
}
