import Testing

/// A `/metrics` body read as the Prometheus text exposition format (0.0.4) and checked on the
/// way: every family has one `# HELP` and one `# TYPE` before its samples and its lines are
/// contiguous; a histogram series has a bucket per bound of its family plus `+Inf`, cumulative,
/// with `+Inf` equal to `_count`, then `_sum` and `_count`. What it records as an issue is a break
/// of the format; what it returns is the shape (`canonical`), without values.
struct PrometheusExposition {
    struct Family {
        var type = ""
        var help = ""
        /// Histograms: the bucket bounds (without `+Inf`), the same for every series.
        var bounds: [Double]?
        /// Each series' labels (`le` removed), as `k="v"` sorted and joined with commas.
        var series = Set<String>()
    }

    private(set) var families: [String: Family] = [:]

    init(_ text: String) {
        var current: String?
        var finished = Set<String>()
        var buckets: [String: [(le: Double, count: Double)]] = [:]  // per histogram series key
        var counts: [String: Double] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3)
                let name = parts.count > 2 ? String(parts[2]) : ""
                if current != name {
                    if let current { finished.insert(current) }
                    #expect(!finished.contains(name), "\(name): its lines are not contiguous")
                    current = name
                }
                let text = parts.count > 3 ? String(parts[3]) : ""
                if line.hasPrefix("# HELP ") {
                    #expect(families[name]?.help.isEmpty != false, "\(name): two HELP lines")
                    families[name, default: Family()].help = text
                } else {
                    #expect(families[name]?.type.isEmpty != false, "\(name): two TYPE lines")
                    #expect(["counter", "gauge", "histogram"].contains(text), "\(line)")
                    families[name, default: Family()].type = text
                }
                continue
            }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                Issue.record("not a sample line: \(line)")
                continue
            }
            let (sample, labels) = Self.split(line[..<space])
            guard let name = current, sample == name || (families[name]?.type == "histogram"
                && ["_bucket", "_sum", "_count"].contains { sample == name + $0 }) else {
                Issue.record("\(sample) is outside its family's lines (\(current ?? "none"))")
                continue
            }
            #expect(families[name]?.type.isEmpty == false && families[name]?.help.isEmpty == false, "\(name): HELP or TYPE missing")
            let key = labels.filter { $0.name != "le" }.map { "\($0.name)=\"\($0.value)\"" }.sorted().joined(separator: ",")
            families[name]?.series.insert(key)
            if sample == name + "_bucket", let le = labels.first(where: { $0.name == "le" })?.value {
                buckets[name + "{" + key + "}", default: []].append((le == "+Inf" ? .infinity : Double(le) ?? .nan, value))
            } else if sample == name + "_count" {
                counts[name + "{" + key + "}"] = value
            }
        }
        for (series, list) in buckets {
            let name = String(series.prefix { $0 != "{" })
            let bounds = list.map(\.le).filter(\.isFinite)
            #expect(bounds == bounds.sorted() && list.last?.le == .infinity, "\(series): bounds out of order or no +Inf")
            #expect(zip(list, list.dropFirst()).allSatisfy { $0.count <= $1.count }, "\(series): buckets are not cumulative")
            #expect(list.last?.count == counts[series], "\(series): +Inf bucket differs from _count")
            if let known = families[name]?.bounds {
                #expect(known == bounds, "\(series): bounds differ from the family's")
            }
            families[name]?.bounds = bounds
        }
    }

    /// One line per family (`name type bounds… | help`) and per series (`name{labels}`), sorted:
    /// what must stay the same whatever produces the text. Label values of `ignoringValuesOf`
    /// families are replaced by `*` (they depend on the machine).
    func canonical(ignoringValuesOf ignored: Set<String> = []) -> [String] {
        var lines: [String] = []
        for (name, family) in families {
            let bounds = family.bounds.map { " le=" + $0.map { "\($0)" }.joined(separator: ",") } ?? ""
            lines.append("\(name) \(family.type)\(bounds) | \(family.help)")
            for key in family.series {
                let shown = ignored.contains(name)
                    ? key.split(separator: ",").map { $0.prefix { $0 != "=" } + "=*" }.joined(separator: ",") : key
                lines.append("\(name){\(shown)}")
            }
        }
        return lines.sorted()
    }

    /// `name{a="x",b="y"}` → (`name`, [(a, x), (b, y)]), with `\"`, `\\` and `\n` unescaped.
    static func split(_ text: Substring) -> (String, [(name: String, value: String)]) {
        guard let brace = text.firstIndex(of: "{"), text.hasSuffix("}") else { return (String(text), []) }
        var labels: [(name: String, value: String)] = []
        var rest = text[text.index(after: brace)..<text.index(before: text.endIndex)]
        while let equals = rest.firstIndex(of: "=") {
            let name = String(rest[..<equals])
            var value = ""
            var index = rest.index(equals, offsetBy: 2)  // past `="`
            while index < rest.endIndex, rest[index] != "\"" {
                if rest[index] == "\\", rest.index(after: index) < rest.endIndex {
                    index = rest.index(after: index)
                    value.append(rest[index] == "n" ? "\n" : rest[index])
                } else {
                    value.append(rest[index])
                }
                index = rest.index(after: index)
            }
            labels.append((name, value))
            rest = rest[min(rest.endIndex, rest.index(index, offsetBy: 2, limitedBy: rest.endIndex) ?? rest.endIndex)...]
        }
        return (String(text[..<brace]), labels)
    }
}
