import Foundation
import TOMLKit

/// `--set key=value` arguments, each read as the TOML table it stands for: `optimizer.lr=1e-3` is
/// `{ optimizer = { lr = 0.001 } }`, laid over the file like a file of its own.
///
/// The value is read as a TOML value (`0.01`, `1e-3`, `"text"`, `[1, 2]`, `true`); text that is not one TOML
/// value is taken as a string, so `method.name=vpt-seq` needs no quotes (quote a string that would read as
/// something else: `model.path="true"`).
enum ConfigOverride {
    /// Throws `ConfigError.invalid` when `argument` is not key=value or a part of its dotted key is empty.
    static func table(_ argument: String) throws -> TOMLTable {
        let usage = "must be key=value, e.g. optimizer.lr=0.001"
        guard let equals = argument.firstIndex(of: "=") else {
            throw ConfigError.invalid(key: nil, problem: usage)
        }
        let path = argument[..<equals].split(separator: ".", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !path.contains(where: \.isEmpty) else {
            throw ConfigError.invalid(key: nil, problem: "has an empty key; \(usage)")
        }
        let value = self.value(String(argument[argument.index(after: equals)...]))
        return path.dropLast().reversed().reduce(TOMLTable([path[path.count - 1]: value])) { TOMLTable([$1: $0]) }
    }

    /// `text` as one TOML value, or else as a string.
    private static func value(_ text: String) -> TOMLValueConvertible {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let parsed = try? TOMLTable(string: "value = \(trimmed)"), parsed.keys == ["value"],
              let value = parsed["value"] else { return trimmed }
        return value
    }
}
