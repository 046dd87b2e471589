import Foundation
import JobsdAPI
import Logging

/// One log line per event on stderr, as `text` (`2026-11-25T01:52:14.123Z info message key=value`)
/// or `json` (one object per line). Values go in metadata, never into the message.
public struct LogLineHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable { case text, json }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let format: Format

    public init(label: String, format: Format, level: Logger.Level) {
        self.label = label
        self.format = format
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let time = Timestamp.now().description
        var line: String
        switch format {
        case .text:
            line = "\(time) \(event.level) \(event.message)"
            for key in all.keys.sorted() {
                let value = "\(all[key]!)"
                let quoted = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
                line += " \(key)=" + (quoted ? "\"" + value.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : value)
            }
        case .json:
            line = "{\"time\":\"\(time)\",\"level\":\"\(event.level)\",\"msg\":" + Self.quote("\(event.message)")
            for key in all.keys.sorted() { line += "," + Self.quote(key) + ":" + Self.quote("\(all[key]!)") }
            line += "}"
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
