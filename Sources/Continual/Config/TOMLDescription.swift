import TOMLKit

/// TOML values as error messages show them: `a string "vtp"`, `an array [1, 2.5]`, `a table { x = 1 }`.
enum TOMLDescription {
    /// The value's TOML type with an article, then the value: the `found` of `ConfigError.wrongType`.
    static func found(_ value: TOMLValueConvertible) -> String {
        let type = switch value.type {
        case .int: "an integer"
        case .double: "a float"
        case .string: "a string"
        case .bool: "a boolean"
        case .array: "an array"
        case .table: "a table"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
        return "\(type) \(inline(value))"
    }

    /// The value on one line, as TOML would write it inline.
    static func inline(_ value: TOMLValueConvertible) -> String {
        if let string = value.string { return TOMLText.quoted(string) }
        if let array = value.array {
            return "[" + array.map(inline).joined(separator: ", ") + "]"
        }
        if let table = value.table {
            return table.isEmpty ? "{}" : "{ " + table.map { "\(TOMLText.key($0)) = \(inline($1))" }.joined(separator: ", ") + " }"
        }
        if let int = value.int { return "\(int)" }
        if let double = value.double { return TOMLText.float(double) }
        if let bool = value.bool { return "\(bool)" }
        return value.debugDescription
    }
}
