/// Writing a `ConfigValue` as TOML text: config.toml, and the document `ConfigLoader` decodes.
extension ConfigValue {
    /// The TOML document of a table (a config's root): its values, then each sub-table under its own
    /// `[header]`, keys sorted at every level.
    /// ```toml
    /// seed = 0
    ///
    /// [method]
    /// name = "vpt-seq"
    ///
    /// [method.vpt]
    /// layers = []
    /// ```
    var tomlDocument: String {
        tableLines(path: []).drop(while: \.isEmpty).joined(separator: "\n") + "\n"
    }

    /// The value as TOML writes it after `key = `.
    var inlineTOML: String {
        switch self {
        case let .integer(value):
            return "\(value)"
        case let .float(value):
            return TOMLText.float(value)
        case let .string(value), let .choice(value, _):
            return TOMLText.quoted(value)
        case let .boolean(value):
            return "\(value)"
        case let .array(elements, _):
            return "[" + elements.map(\.inlineTOML).joined(separator: ", ") + "]"
        case .table:
            preconditionFailure("tables are written under their own header; config arrays hold none")
        }
    }

    private func tableLines(path: [String]) -> [String] {
        guard case let .table(entries) = self else { preconditionFailure("a TOML document is a table, not \(self)") }
        let sorted = entries.sorted { $0.key < $1.key }
        var lines = sorted.filter { !$0.value.isTable }.map { "\(TOMLText.key($0.key)) = \($0.value.inlineTOML)" }
        for (name, table) in sorted where table.isTable {
            let tablePath = path + [name]
            lines += ["", "[" + tablePath.map(TOMLText.key).joined(separator: ".") + "]"]
            lines += table.tableLines(path: tablePath)
        }
        return lines
    }

    private var isTable: Bool {
        if case .table = self { return true }
        return false
    }
}
