/// The pieces of TOML syntax that `ConfigValue.tomlDocument` and error messages write.
enum TOMLText {
    /// A basic string: `"a \"b\"\n"`, with every character TOML does not allow raw escaped.
    static func quoted(_ string: String) -> String {
        var text = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\t": text += "\\t"
            case "\r": text += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                text += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16, uppercase: true)
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }

    /// A key, bare where TOML allows (`max_grad_norm`), else quoted.
    static func key(_ name: String) -> String {
        let bare = !name.isEmpty && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }
        return bare ? name : quoted(name)
    }

    /// A float as Swift writes it, which is the shortest decimal that reads back as the same Double and is
    /// TOML as it stands (`0.001`, `1e-06`, `3.0`, `inf`, `nan`).
    static func float(_ value: Double) -> String {
        "\(value)"
    }
}
