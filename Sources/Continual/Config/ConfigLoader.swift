import Foundation
import TOMLKit

/// Reads a `TrainingConfig` (or another `RunConfiguration`: `PretrainConfig`) from TOML with `--set` overrides,
/// and writes one back.
///
/// ```
/// defaults   ConfigValue of TrainingConfig(): every key, its default, what it accepts
///   <- file       each key it names, checked against that key (ConfigValue.applying)
///   <- --set      one after the other, each checked the same way
///   -> tomlDocument (as toml(_:) writes it) -> TOMLDecoder -> TrainingConfig -> validate()
/// ```
/// Because the file is laid over the defaults before decoding, a file gives only the keys it changes, and an
/// unknown key, a value of the wrong type or an unknown enum value is reported against the dotted key before
/// the decoder sees it. Every error is a `ConfigError.inSource` naming the file or the `--set` argument, so
/// its description starts with `config <source>:`.
public enum ConfigLoader {
    /// Reads the TOML file, applies the overrides in order, decodes and validates.
    public static func load(file: URL, overrides: [String] = []) throws -> TrainingConfig {
        try load(TrainingConfig.self, file: file, overrides: overrides)
    }

    /// Same from text; `source` names it in errors (a path).
    public static func load(toml: String, source: String, overrides: [String] = []) throws -> TrainingConfig {
        try load(TrainingConfig.self, toml: toml, source: source, overrides: overrides)
    }

    /// A config of `type` from the TOML file, the overrides applied in order, decoded and validated.
    public static func load<Config: RunConfiguration>(_ type: Config.Type, file: URL,
                                                      overrides: [String] = []) throws -> Config {
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw ConfigError.inSource(file.relativePath,
                                       .invalid(key: nil, problem: "cannot be read: \(error.localizedDescription)"))
        }
        return try load(type, toml: text, source: file.relativePath, overrides: overrides)
    }

    /// Same from text; `source` names it in errors (a path).
    public static func load<Config: RunConfiguration>(_ type: Config.Type, toml: String, source: String,
                                                      overrides: [String] = []) throws -> Config {
        var config = try inSource(source) {
            try ConfigValue.encoding(Config()).applying(try parse(toml), at: "")
        }
        for argument in overrides {
            config = try inSource("--set \(argument)") { try config.applying(ConfigOverride.table(argument), at: "") }
        }
        return try inSource(source) {
            let decoded = try TOMLDecoder().decode(Config.self, from: config.tomlDocument)
            try decoded.validate()
            return decoded
        }
    }

    /// The config as a TOML document with every key (written as config.toml next to a run's outputs).
    public static func toml<Config: RunConfiguration>(_ config: Config) throws -> String {
        try ConfigValue.encoding(config).tomlDocument
    }

    private static func parse(_ toml: String) throws -> TOMLTable {
        do {
            return try TOMLTable(string: toml)
        } catch let error as TOMLParseError {
            throw ConfigError.syntax("\(error.description) (\(error.source.debugDescription))")
        }
    }

    /// `body`'s result; its errors as `ConfigError.inSource(source, ...)`, those that are not `ConfigError`s
    /// (`OptimizationError` from the optimizer's and schedule's own checks) as `.invalid` with their message.
    private static func inSource<T>(_ source: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ConfigError {
            throw ConfigError.inSource(source, error)
        } catch {
            throw ConfigError.inSource(source, .invalid(key: nil, problem: "\(error)"))
        }
    }
}
