import Foundation
import JobsdAPI

/// Resolves a setting from its flag, then its `JOBSD_*` environment twin, then its default, and
/// turns a bad value into one clear line naming the flag.
struct Settings {
    let env: [String: String]

    func string(_ flag: String?, _ envName: String) -> String? {
        flag ?? env[envName].flatMap { $0.isEmpty ? nil : $0 }
    }

    func integer(_ flag: String?, _ envName: String, _ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = string(flag, envName) else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw SettingsError("\(name) (\(envName)) must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return n
    }

    func duration(_ flag: String?, _ envName: String, _ name: String, default value: Double, positive: Bool) throws -> Double {
        guard let text = string(flag, envName) else { return value }
        guard let s = DurationText.seconds(from: text), !positive || s > 0 else {
            throw SettingsError("\(name) (\(envName)) must be a duration like 30, 500ms, 30s, 5m, 2h or 7d\(positive ? " greater than 0" : ""), got '\(text)'")
        }
        return s
    }

    /// A limit flag (`--max-memory`, `--default-cpu`, …): memory as a size (`512M`, `2G`), the
    /// others as numbers, each in its kind's range.
    func limit(_ flag: String?, _ kind: JobLimits.Kind, prefix: String) throws -> Double? {
        let suffix: String = switch kind {
        case .memoryBytes: "memory"
        case .cpu: "cpu"
        case .pids: "pids"
        case .openFiles: "open-files"
        case .cpuSeconds: "cpu-seconds"
        }
        let name = "--\(prefix)-\(suffix)"
        let envName = "JOBSD_" + "\(prefix)_\(suffix)".uppercased().replacingOccurrences(of: "-", with: "_")
        guard let text = string(flag, envName) else { return nil }
        let value = kind == .memoryBytes ? ByteSize.bytes(from: text).map(Double.init) : Double(text)
        guard let value, kind.accepts(value) else {
            throw SettingsError("\(name) (\(envName)) must be \(kind.bounds.text), got '\(text)'")
        }
        return value
    }

    func choice<T: RawRepresentable & CaseIterable>(_ flag: String?, _ envName: String, _ name: String, default value: T) throws -> T
    where T.RawValue == String {
        guard let text = string(flag, envName) else { return value }
        guard let v = T(rawValue: text.lowercased()) else {
            throw SettingsError("\(name) (\(envName)) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
        }
        return v
    }
}

struct SettingsError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
