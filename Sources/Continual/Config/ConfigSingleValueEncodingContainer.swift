/// A value that encodes itself as one value (a wrapper around a scalar, say), as its encoder's `single`.
struct ConfigSingleValueEncodingContainer: SingleValueEncodingContainer {
    let encoder: ConfigValueEncoder
    var codingPath: [CodingKey] { encoder.codingPath }

    func encode<T: Encodable>(_ value: T) throws {
        encoder.single = try ConfigValue.encoding(value)
    }

    /// TOML has no null (see `ConfigKeyedEncodingContainer.encodeNil`).
    func encodeNil() throws {
        throw EncodingError.invalidValue("nil", .init(codingPath: codingPath, debugDescription: "a config value cannot be nil"))
    }
}
