import Foundation

/// One compact JSON object on one line, keys sorted, slashes unescaped: how every `--json` output of
/// promptcl prints, so scripts can read it line by line.
func jsonLine<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
