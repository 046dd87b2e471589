import ArgumentParser
import JobsdAPI
import JobsdClient

/// A duration option: plain seconds or `500ms`, `30s`, `5m`, `2h`, `7d`.
struct DurationArgument: ExpressibleByArgument {
    var seconds: Double

    init?(argument: String) {
        guard let seconds = DurationText.seconds(from: argument) else { return nil }
        self.seconds = seconds
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// A size option (`--memory 512M`): bytes, or K/M/G/T (powers of 1024).
struct ByteSizeArgument: ExpressibleByArgument {
    var bytes: Int64

    init?(argument: String) {
        guard let bytes = ByteSize.bytes(from: argument) else { return nil }
        self.bytes = bytes
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// A `KEY=VALUE` option (`--env`, `--label`), split at the first `=`.
struct KeyValueArgument: ExpressibleByArgument {
    var key: String
    var value: String

    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else { return nil }
        key = String(argument[..<equals])
        value = String(argument[argument.index(after: equals)...])
    }
}

extension [KeyValueArgument] {
    var dictionary: [String: String] { Dictionary(map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }) }
}

extension JobState: ExpressibleByArgument {}
extension LogStream: ExpressibleByArgument {}
