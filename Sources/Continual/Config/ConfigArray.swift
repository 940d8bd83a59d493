/// Arrays as `ConfigValue.encoding` sees them: their elements, and their element type, which alone says
/// what an empty array's key accepts (`method.vpt.layers = []` is an array of integers).
protocol ConfigArray {
    func elementValues() throws -> [ConfigValue]
    static var elementPrototype: ConfigValue { get }
}

extension Array: ConfigArray where Element: Encodable {
    func elementValues() throws -> [ConfigValue] {
        try map { try ConfigValue.encoding($0) }
    }

    static var elementPrototype: ConfigValue { ConfigValue.prototype(of: Element.self) }
}
