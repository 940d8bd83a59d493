/// A run config as the loader handles it: every key with its value and with what the key accepts, so a
/// TOML file or a `--set` argument can be checked key by key before anything is decoded.
///
/// Built from the Codable types themselves (`ConfigValue.encoding`), so a field added to a section is a key
/// of the file with no second list to update:
/// ```
/// Int                        integer   (a TOML integer)
/// Float, Double              float     (a TOML float or integer)
/// String                     string
/// Bool                       boolean
/// String raw-value enum      choice    (a TOML string naming one of the enum's cases)
/// [Element]                  array     (every element of the kind of `element`, even when the array is empty)
/// struct                     table     (the keys its CodingKeys name)
/// ```
indirect enum ConfigValue: Equatable {
    case integer(Int)
    case float(Double)
    case string(String)
    case boolean(Bool)
    /// A raw value of a String enum, with the raw values of all its cases in declaration order.
    case choice(String, cases: [String])
    /// The elements, and a value of the element type that stands for what each element accepts.
    case array([ConfigValue], element: ConfigValue)
    case table([String: ConfigValue])
}
