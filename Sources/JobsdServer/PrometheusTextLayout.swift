import JobsdMetrics

/// Lays out swift-prometheus' text exposition the way `/metrics` has always read (the hand-written
/// registry before the move to swift-metrics): families in the order of `MetricFamily.all` (any
/// other library's families after them, by name) rather than the registry's hash order, and every
/// integral number — sample values and `le` bounds — written as an integer (`1`, `le="1"`), not as
/// `1.0`. Nothing else of a line changes; both forms are valid exposition text, this one is stable.
enum PrometheusTextLayout {
    /// `text` rearranged and its integral numbers shortened. Pure and allocation-light enough for a
    /// scrape; nothing is cached between calls.
    static func arranged(_ text: [UInt8]) -> [UInt8] {
        var blocks: [(name: Substring, lines: [Substring])] = []
        let string = String(decoding: text, as: UTF8.self)
        for line in string.split(separator: "\n") {
            if line.hasPrefix("# ") {
                let name = line.split(separator: " ", maxSplits: 3).dropFirst(2).first ?? ""
                if blocks.last?.name != name { blocks.append((name, [])) }
                blocks[blocks.count - 1].lines.append(line)
            } else if blocks.isEmpty {
                blocks.append(("", [line]))
            } else {
                blocks[blocks.count - 1].lines.append(line)
            }
        }
        let rank = Dictionary(uniqueKeysWithValues: MetricFamily.all.enumerated().map { ($1.name, $0) })
        let ordered = blocks.enumerated().sorted { a, b in
            let (ra, rb) = (rank[String(a.element.name)] ?? Int.max, rank[String(b.element.name)] ?? Int.max)
            if ra != rb { return ra < rb }
            return ra == Int.max && a.element.name != b.element.name ? a.element.name < b.element.name : a.offset < b.offset
        }
        var out = ""
        out.reserveCapacity(string.utf8.count)
        for block in ordered {
            for line in block.element.lines {
                out += line.hasPrefix("#") ? String(line) : sample(line)
                out += "\n"
            }
        }
        return Array(out.utf8)
    }

    /// A sample line with its value and its `le` bound, when integral, written as integers.
    private static func sample(_ line: Substring) -> String {
        guard let space = line.lastIndex(of: " ") else { return String(line) }
        var series = String(line[..<space])
        if let le = series.range(of: "le=\""), let close = series[le.upperBound...].firstIndex(of: "\"") {
            series.replaceSubrange(le.upperBound..<close, with: integral(series[le.upperBound..<close]))
        }
        return series + " " + integral(line[line.index(after: space)...])
    }

    /// `5.0` → `5`; anything else (`0.25`, `+Inf`, `1e+20`) as it is.
    private static func integral(_ number: Substring) -> String {
        guard number.hasSuffix(".0"), let value = Double(number), value.rounded() == value, abs(value) < 1e15 else {
            return String(number)
        }
        return String(Int64(value))
    }
}
