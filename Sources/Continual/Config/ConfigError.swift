/// Why a run config was refused. `ConfigLoader` adds the file (or `--set` argument) it came from.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    /// A key of the file that no section declares.
    case unknownKey(key: String, known: [String])
    /// A value of the wrong TOML type (`expected`: "an integer", "a float", ...).
    case wrongType(key: String, expected: String, found: String)
    /// A value no run could mean (negative learning rate, unknown method name, ...).
    case invalid(key: String?, problem: String)
    /// The TOML text itself does not parse.
    case syntax(String)
    /// Attached by the loader: where the config came from ("configs/x.toml", "--set a.b=c").
    indirect case inSource(String, ConfigError)

    public var description: String {
        switch self {
        case let .unknownKey(key, known):
            return "unknown key \(key) (expected one of: \(known.joined(separator: ", ")))"
        case let .wrongType(key, expected, found):
            return "\(key) must be \(expected), found \(found)"
        case let .invalid(key, problem):
            return key.map { "\($0) \(problem)" } ?? problem
        case let .syntax(message):
            return "not valid TOML: \(message)"
        case let .inSource(source, error):
            return "config \(source): \(error)"
        }
    }
}

/// One-line checks for `validate()` methods.
enum ConfigCheck {
    static func that(_ condition: Bool, _ key: String, _ problem: @autoclosure () -> String) throws {
        if !condition { throw ConfigError.invalid(key: key, problem: problem()) }
    }
}
