import Foundation

/// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
/// exposition format (`# HELP`, `# TYPE`). Hand-written rather than swift-metrics + swift-prometheus:
/// it is ~150 lines, emits HELP for every family, and has no global bootstrap that tests would
/// share.
///
/// Thread-safe: the family table and every sample are guarded by `lock`.
public final class MetricsRegistry: @unchecked Sendable {
    /// Guards `families` and every metric value created by this registry.
    let lock = PThreadLock()
    private var families: [String: Family] = [:]
    private var order: [String] = []

    public init() {}

    final class Family {
        let name: String
        let help: String
        let type: String
        var samples: [String: Sample] = [:]
        var sampleOrder: [String] = []
        init(name: String, help: String, type: String) {
            self.name = name
            self.help = help
            self.type = type
        }
    }

    enum Sample {
        case value(Box)
        case histogram(HistogramStorage)
    }

    final class Box { var value: Double = 0 }

    final class HistogramStorage {
        let bounds: [Double]
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
        init(bounds: [Double]) {
            self.bounds = bounds
            self.counts = Array(repeating: 0, count: bounds.count)
        }
    }

    private func sample(_ name: String, help: String, type: String, labels: [(String, String)], make: () -> Sample) -> Sample {
        lock.withLock {
            let family: Family
            if let f = families[name] {
                family = f
            } else {
                family = Family(name: name, help: help, type: type)
                families[name] = family
                order.append(name)
            }
            let key = Self.labelText(labels)
            if let s = family.samples[key] { return s }
            let s = make()
            family.samples[key] = s
            family.sampleOrder.append(key)
            return s
        }
    }

    public func counter(_ name: String, help: String, labels: [(String, String)] = []) -> Counter {
        guard case let .value(box) = sample(name, help: help, type: "counter", labels: labels, make: { .value(Box()) })
        else { preconditionFailure("\(name) registered with another type") }
        return Counter(registry: self, box: box)
    }

    public func gauge(_ name: String, help: String, labels: [(String, String)] = []) -> Gauge {
        guard case let .value(box) = sample(name, help: help, type: "gauge", labels: labels, make: { .value(Box()) })
        else { preconditionFailure("\(name) registered with another type") }
        return Gauge(registry: self, box: box)
    }

    public func histogram(_ name: String, help: String, buckets: [Double], labels: [(String, String)] = []) -> Histogram {
        let s = sample(name, help: help, type: "histogram", labels: labels, make: { .histogram(HistogramStorage(bounds: buckets.sorted())) })
        guard case let .histogram(storage) = s else { preconditionFailure("\(name) registered with another type") }
        return Histogram(registry: self, storage: storage)
    }

    /// The Prometheus text exposition (version 0.0.4).
    public func render() -> String {
        lock.withLock {
            var out = ""
            for name in order {
                guard let f = families[name] else { continue }
                out += "# HELP \(f.name) \(f.help)\n# TYPE \(f.name) \(f.type)\n"
                for key in f.sampleOrder {
                    switch f.samples[key]! {
                    case let .value(box):
                        out += "\(f.name)\(key.isEmpty ? "" : "{\(key)}") \(Self.format(box.value))\n"
                    case let .histogram(h):
                        var cumulative: UInt64 = 0
                        let prefix = key.isEmpty ? "" : key + ","
                        for (i, bound) in h.bounds.enumerated() {
                            cumulative += h.counts[i]
                            out += "\(f.name)_bucket{\(prefix)le=\"\(Self.format(bound))\"} \(cumulative)\n"
                        }
                        out += "\(f.name)_bucket{\(prefix)le=\"+Inf\"} \(h.count)\n"
                        out += "\(f.name)_sum\(key.isEmpty ? "" : "{\(key)}") \(Self.format(h.sum))\n"
                        out += "\(f.name)_count\(key.isEmpty ? "" : "{\(key)}") \(h.count)\n"
                    }
                }
            }
            return out
        }
    }

    static func labelText(_ labels: [(String, String)]) -> String {
        labels.map { k, v in
            let escaped = v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return "\(k)=\"\(escaped)\""
        }.joined(separator: ",")
    }

    static func format(_ v: Double) -> String {
        if v.rounded() == v, abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}

/// A monotonically increasing count.
public struct Counter: Sendable {
    let registry: MetricsRegistry
    nonisolated(unsafe) let box: MetricsRegistry.Box  // guarded by registry.lock

    public func increment(by amount: Double = 1) { registry.lock.withLock { box.value += amount } }
    public var value: Double { registry.lock.withLock { box.value } }
}

/// A value that goes up and down.
public struct Gauge: Sendable {
    let registry: MetricsRegistry
    nonisolated(unsafe) let box: MetricsRegistry.Box  // guarded by registry.lock

    public func set(_ value: Double) { registry.lock.withLock { box.value = value } }
    public func add(_ delta: Double) { registry.lock.withLock { box.value += delta } }
    public var value: Double { registry.lock.withLock { box.value } }
}

/// Observations counted into cumulative buckets.
public struct Histogram: Sendable {
    let registry: MetricsRegistry
    nonisolated(unsafe) let storage: MetricsRegistry.HistogramStorage  // guarded by registry.lock

    /// Default buckets for durations in seconds, 1 ms … 1 h.
    public static let durationBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]

    public func observe(_ value: Double) {
        registry.lock.withLock {
            if let i = storage.bounds.firstIndex(where: { value <= $0 }) { storage.counts[i] += 1 }
            storage.sum += value
            storage.count += 1
        }
    }

    public var count: UInt64 { registry.lock.withLock { storage.count } }
}
