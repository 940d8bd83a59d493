/// Decoding helper for configuration structs that reject keys they do not know (a misspelt `"wieghtDecay"`
/// must not silently fall back to the default).
struct StrictKeys: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }

    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }

    /// Throws `OptimizationError` naming the first key of `decoder`'s object that is not in `known`.
    static func rejectUnknown(in decoder: Decoder, known: [String], type: String) throws {
        let container = try decoder.container(keyedBy: StrictKeys.self)
        if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw OptimizationError("\(type): unknown key \"\(unknown)\" (expected one of \(known.joined(separator: ", ")))")
        }
    }
}
