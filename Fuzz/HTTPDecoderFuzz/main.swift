// libFuzzer target for HTTPDecoder, built by scripts/fuzz-http.sh with `swiftc -sanitize=fuzzer`
// against the decoder's sources (not a package target, so `swift build` never needs libFuzzer).
// Checks: no crash on any input, and feeding the input in pieces decodes exactly like feeding it whole.

/// What decoding produced, minus `continueExpected` (which legitimately depends on how bytes arrive).
private struct Outcome: Equatable {
    var requests: [String] = []
    var errorStatus: Int?
}

private func decode(_ bytes: [UInt8], pieceSize: Int) -> Outcome {
    var decoder = HTTPDecoder(maxHeaderBytes: 512, maxBodyBytes: 2048)
    var outcome = Outcome()
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + pieceSize)
        decoder.feed(bytes[offset..<end])
        offset = end
        do {
            while let event = try decoder.next() {
                if case .request(let request) = event {
                    let query = request.query.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
                    outcome.requests.append("\(request.method) \(request.path)?\(query) \(request.headers.count) \(request.body)")
                }
            }
        } catch {
            precondition([400, 413, 431, 501, 505].contains(error.status), "unexpected status \(error.status)")
            outcome.errorStatus = error.status
            return outcome
        }
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = decode(bytes, pieceSize: max(1, size))
    let pieces = decode(bytes, pieceSize: 1 + Int(bytes.last ?? 0) % 13)
    precondition(whole == pieces, "piecewise decoding differs: \(whole) vs \(pieces)")
    return 0
}
