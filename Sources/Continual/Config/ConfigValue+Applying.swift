import TOMLKit

/// Checking what a file or a `--set` argument wrote against the keys and kinds of the config.
extension ConfigValue {
    /// This value with `toml` (written at the dotted `key`) in its place: a table replaces only the keys it
    /// names and keeps the others, anything else replaces the value whole. A TOML integer is taken for a
    /// float (`lr = 1`); every other mismatch of kinds, key that the table does not have, and string that
    /// names no case of a choice throws, naming the key.
    func applying(_ toml: TOMLValueConvertible, at key: String) throws -> ConfigValue {
        func wrongType(_ expected: String) -> ConfigError {
            .wrongType(key: key, expected: expected, found: TOMLDescription.found(toml))
        }
        switch self {
        case .integer:
            guard let value = toml.int else { throw wrongType("an integer") }
            return .integer(value)
        case .float:
            guard let value = toml.double ?? toml.int.map(Double.init) else { throw wrongType("a float") }
            return .float(value)
        case .string:
            guard let value = toml.string else { throw wrongType("a string") }
            return .string(value)
        case .boolean:
            guard let value = toml.bool else { throw wrongType("a boolean") }
            return .boolean(value)
        case let .choice(_, cases):
            guard let value = toml.string else { throw wrongType("a string") }
            guard cases.contains(value) else {
                throw ConfigError.invalid(key: key, problem: "must be one of: \(cases.joined(separator: ", ")); "
                                              + "got \(TOMLDescription.inline(value))")
            }
            return .choice(value, cases: cases)
        case let .array(_, element):
            guard let array = toml.array else { throw wrongType("an array") }
            let elements = try array.enumerated().map { index, value in
                try element.applying(value, at: "\(key)[\(index)]")
            }
            return .array(elements, element: element)
        case var .table(entries):
            guard let table = toml.table else { throw wrongType("a table") }
            for (name, value) in table {
                let path = key.isEmpty ? name : "\(key).\(name)"
                guard let current = entries[name] else {
                    throw ConfigError.unknownKey(key: path, known: entries.keys.sorted())
                }
                entries[name] = try current.applying(value, at: path)
            }
            return .table(entries)
        }
    }
}
