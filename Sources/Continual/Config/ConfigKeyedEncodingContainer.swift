/// A struct's keys, written into its `ConfigValueEncoder`'s entries (the primitive overloads forward to the
/// generic `encode`, which `ConfigValue.encoding` sorts by type).
struct ConfigKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: ConfigValueEncoder
    var codingPath: [CodingKey] { encoder.codingPath }

    func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        encoder.entries[key.stringValue] = try ConfigValue.encoding(value)
    }

    /// TOML has no null: an optional field would have no default to check a file's value against.
    func encodeNil(forKey key: Key) throws {
        throw EncodingError.invalidValue(key.stringValue, .init(codingPath: codingPath + [key],
                                                                debugDescription: "a config key cannot be nil"))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type,
                                               forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        preconditionFailure(ConfigValueEncoder.unsupported)
    }

    func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        preconditionFailure(ConfigValueEncoder.unsupported)
    }

    func superEncoder() -> Encoder {
        preconditionFailure(ConfigValueEncoder.unsupported)
    }

    func superEncoder(forKey key: Key) -> Encoder {
        preconditionFailure(ConfigValueEncoder.unsupported)
    }
}
