import CPostgres

/// The rows of one finished query, in libpq's text format. Owns its `PGresult` and frees it when
/// released; used on the thread that ran the query (values are copied out as Swift strings).
final class PostgresResult {
    private let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { PQclear(handle) }

    var count: Int { Int(PQntuples(handle)) }

    /// Rows changed by an INSERT, UPDATE or DELETE (0 for other commands).
    var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    /// Row `index` (0-based).
    subscript(index: Int) -> PostgresRow { PostgresRow(result: self, row: Int32(index)) }

    var rows: [PostgresRow] { (0..<count).map { self[$0] } }

    fileprivate func isNull(_ row: Int32, _ column: Int32) -> Bool { PQgetisnull(handle, row, column) == 1 }

    fileprivate func bytes(_ row: Int32, _ column: Int32) -> UnsafeBufferPointer<UInt8> {
        let length = Int(PQgetlength(handle, row, column))
        return PQgetvalue(handle, row, column).withMemoryRebound(to: UInt8.self, capacity: length) {
            UnsafeBufferPointer(start: $0, count: length)
        }
    }
}

/// One row of a `PostgresResult`; columns 0-based. Text values are decoded as the server sent them
/// (integers and floats in their shortest exact text form).
struct PostgresRow: StoredJobRow {
    let result: PostgresResult
    let row: Int32

    func string(_ column: Int32) -> String? {
        result.isNull(row, column) ? nil : String(decoding: result.bytes(row, column), as: UTF8.self)
    }

    func bytes(_ column: Int32) -> [UInt8] {
        result.isNull(row, column) ? [] : Array(result.bytes(row, column))
    }

    /// Bytes sent as hex text: `encode(x, 'hex')`, or a `bytea` column in the server's default
    /// output format (`\x` first).
    func hexBytes(_ column: Int32) -> [UInt8] {
        guard !result.isNull(row, column) else { return [] }
        var text = UnsafeBufferPointer(rebasing: result.bytes(row, column)[...])
        if text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x") { text = UnsafeBufferPointer(rebasing: text[2...]) }
        func nibble(_ c: UInt8) -> UInt8 { c <= UInt8(ascii: "9") ? c &- UInt8(ascii: "0") : (c | 0x20) &- UInt8(ascii: "a") &+ 10 }
        var out = [UInt8](repeating: 0, count: text.count / 2)
        for i in out.indices { out[i] = nibble(text[text.startIndex + 2 * i]) << 4 | nibble(text[text.startIndex + 2 * i + 1]) }
        return out
    }

    func int64(_ column: Int32) -> Int64? { string(column).flatMap { Int64($0) } }

    func double(_ column: Int32) -> Double? { string(column).flatMap { Double($0) } }

    func bool(_ column: Int32) -> Bool? { string(column).map { $0 == "t" } }
}
