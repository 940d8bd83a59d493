/// The `Encoder` behind `ConfigValue.encoding` for structs: a keyed container fills `entries`, a single-value
/// container sets `single`.
///
/// Config types are tables of values encoded by their synthesized (or hand-written keyed) `encode(to:)`;
/// unkeyed containers (arrays are handled by type before reaching here), nested containers and super
/// encoders are not part of that shape and stop with a precondition failure, which any load hits at once.
final class ConfigValueEncoder: Encoder {
    let codingPath: [CodingKey] = []
    let userInfo: [CodingUserInfoKey: Any] = [:]
    var entries: [String: ConfigValue] = [:]
    var single: ConfigValue?

    /// What was encoded: the single value, or else the table of the keyed entries.
    var value: ConfigValue { single ?? .table(entries) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(ConfigKeyedEncodingContainer<Key>(encoder: self))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        preconditionFailure(Self.unsupported)
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        ConfigSingleValueEncodingContainer(encoder: self)
    }

    static let unsupported = "config types encode as keyed tables of values (synthesized Codable)"
}
