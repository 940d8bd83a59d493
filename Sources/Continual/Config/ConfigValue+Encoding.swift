/// Building a `ConfigValue` from a Codable value: scalars, enums and arrays by their type, structs through
/// `ConfigValueEncoder` (their `encode(to:)`, so the keys are their CodingKeys).
extension ConfigValue {
    static func encoding<T: Encodable>(_ value: T) throws -> ConfigValue {
        switch value {
        case let value as Bool:
            return .boolean(value)
        case let value as String:
            return .string(value)
        case let value as any BinaryInteger:
            guard let integer = Int(exactly: value) else {
                throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "beyond a TOML integer"))
            }
            return .integer(integer)
        case let value as Float:
            return .float(widened(value))
        case let value as any BinaryFloatingPoint:
            return .float(Double(value))
        case let value as any CaseIterable & RawRepresentable<String>:
            return choice(value)
        case let value as any ConfigArray:
            return .array(try value.elementValues(), element: type(of: value).elementPrototype)
        default:
            let encoder = ConfigValueEncoder()
            try value.encode(to: encoder)
            return encoder.value
        }
    }

    /// A value that stands for what a key of type `type` accepts: the element of an array, empty or not.
    static func prototype(of type: Any.Type) -> ConfigValue {
        switch type {
        case is Bool.Type:
            return .boolean(false)
        case is String.Type:
            return .string("")
        case is any BinaryInteger.Type:
            return .integer(0)
        case is any BinaryFloatingPoint.Type:
            return .float(0)
        case let type as any (CaseIterable & RawRepresentable<String>).Type:
            return firstChoice(of: type)
        default:
            preconditionFailure("config arrays hold numbers, strings, booleans or String enums, not \(type)")
        }
    }

    /// A Float as the Double of its shortest decimal (0.001, not 0.0010000000474974513), so config.toml reads
    /// as it was written; the exact widening where that decimal would not come back to the same Float.
    private static func widened(_ value: Float) -> Double {
        let decimal = Double("\(value)") ?? Double(value)
        return Float(decimal) == value ? decimal : Double(value)
    }

    private static func firstChoice<Choice: CaseIterable & RawRepresentable<String>>(of type: Choice.Type) -> ConfigValue {
        choice(Choice.allCases.first!)
    }

    private static func choice<Choice: CaseIterable & RawRepresentable<String>>(_ value: Choice) -> ConfigValue {
        .choice(value.rawValue, cases: Choice.allCases.map(\.rawValue))
    }
}
