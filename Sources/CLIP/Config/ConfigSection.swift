import Foundation

/// One object of a Hugging Face `config.json` (the top level, `text_config` or `vision_config`) with typed,
/// checked look-ups that fall back to a legacy object (`text_config_dict`) and then to a default.
///
/// Every error names the file and the key as a dotted path into the file (`vision_config.patch_size`).
/// Unknown keys are ignored: these files carry many that do not concern the model's shape.
struct ConfigSection {
    let url: URL
    /// The objects searched, first to last, with their paths ("" for the top level).
    let sources: [(path: String, members: [String: JSONValue])]

    /// The object at top-level `key`, falling back to `legacyKey`; either may be absent or null.
    init(url: URL, root: [String: JSONValue], key: String, legacyKey: String) throws {
        self.url = url
        sources = try [key, legacyKey].compactMap { name in
            switch root[name] {
            case nil, .null?: return nil
            case .object(let members)?: return (name, members)
            case let other?: throw CLIPConfigError(url, name, "expected an object, found \(other.typeDescription)")
            }
        }
    }

    /// The top level of the file.
    init(url: URL, root: [String: JSONValue]) {
        self.url = url
        sources = [("", root)]
    }

    /// The dotted path of `key` as the file holds it (in the first source, when no source has it).
    func path(_ key: String) -> String {
        let source = sources.first { $0.members[key] != nil }?.path ?? sources.first?.path ?? ""
        return source.isEmpty ? key : "\(source).\(key)"
    }

    func error(_ key: String, _ problem: String) -> CLIPConfigError {
        CLIPConfigError(url, path(key), problem)
    }

    private func value(_ key: String) -> JSONValue? {
        sources.lazy.compactMap { $0.members[key] }.first
    }

    func string(_ key: String, default fallback: String) throws -> String {
        switch value(key) {
        case nil: return fallback
        case .string(let string)?: return string
        case let other?: throw error(key, "expected a string, found \(other.typeDescription)")
        }
    }

    func integer(_ key: String, default fallback: Int) throws -> Int {
        switch value(key) {
        case nil: return fallback
        case .int(let integer)?: return integer
        case let other?: throw error(key, "expected an integer, found \(other.typeDescription)")
        }
    }

    /// A size that must be at least 1.
    func positive(_ key: String, default fallback: Int) throws -> Int {
        let size = try integer(key, default: fallback)
        guard size > 0 else { throw error(key, "must be positive, found \(size)") }
        return size
    }

    /// A positive side length: an integer, or `[side, side]` (transformers accepts both for image and patch sizes).
    func side(_ key: String, default fallback: Int) throws -> Int {
        guard case .array(let elements)? = value(key) else { return try positive(key, default: fallback) }
        guard elements.count == 2, case .int(let height) = elements[0], case .int(let width) = elements[1] else {
            throw error(key, "expected an integer or a pair of integers")
        }
        guard height == width else { throw error(key, "non-square \(height) x \(width) is not supported") }
        guard height > 0 else { throw error(key, "must be positive, found \(height)") }
        return height
    }

    /// A finite number (integer or not).
    func number(_ key: String, default fallback: Float) throws -> Float {
        let number: Double
        switch value(key) {
        case nil: return fallback
        case .int(let integer)?: number = Double(integer)
        case .double(let double)?: number = double
        case let other?: throw error(key, "expected a number, found \(other.typeDescription)")
        }
        guard number.isFinite, Float(number).isFinite else { throw error(key, "must be finite, found \(number)") }
        return Float(number)
    }
}
