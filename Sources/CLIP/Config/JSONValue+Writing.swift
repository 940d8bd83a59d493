extension JSONValue {
    /// The value as JSON text the way Python's `json.dumps(value, indent=2, sort_keys=True)` lays it out
    /// (what transformers' `save_pretrained` writes to `config.json`), followed by a newline:
    /// ```
    /// {
    ///   "key": [
    ///     1,
    ///     2.5
    ///   ],
    ///   "other": {}
    /// }
    /// ```
    /// Doubles print in Swift's shortest round-trip form (`1e-05`, `0.02`, `1.0`), which parses back to the
    /// same bits. A non-finite double has no JSON form: a programming error.
    var prettyText: String {
        var text = ""
        write(into: &text, indent: 0)
        return text + "\n"
    }

    /// A JSON number for a Float, through its shortest decimal form: 1e-5 becomes `1e-05`, not the Double
    /// nearest the Float (`1.0000000474974513e-05`), and reads back as the same Float.
    init(_ float: Float) {
        precondition(float.isFinite, "\(float) has no JSON form")
        self = .double(Double(float.description)!)
    }

    private func write(into text: inout String, indent: Int) {
        let inner = String(repeating: " ", count: indent + 2), outer = String(repeating: " ", count: indent)
        switch self {
        case .null: text += "null"
        case .bool(let value): text += value ? "true" : "false"
        case .int(let value): text += String(value)
        case .double(let value):
            precondition(value.isFinite, "\(value) has no JSON form")
            text += value.description
        case .string(let value): text += Self.quoted(value)
        case .array(let elements):
            guard !elements.isEmpty else { text += "[]"; return }
            text += "[\n"
            for (i, element) in elements.enumerated() {
                text += inner
                element.write(into: &text, indent: indent + 2)
                text += i < elements.count - 1 ? ",\n" : "\n"
            }
            text += outer + "]"
        case .object(let members):
            guard !members.isEmpty else { text += "{}"; return }
            text += "{\n"
            let keys = members.keys.sorted()
            for (i, key) in keys.enumerated() {
                text += inner + Self.quoted(key) + ": "
                members[key]!.write(into: &text, indent: indent + 2)
                text += i < keys.count - 1 ? ",\n" : "\n"
            }
            text += outer + "}"
        }
    }

    /// `string` as a JSON string literal: quotes, backslashes and control characters escaped.
    private static func quoted(_ string: String) -> String {
        var escaped = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }
}
