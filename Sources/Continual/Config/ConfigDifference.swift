/// The keys in which two run configs differ, for resuming: a checkpoint written under one config continues
/// only under a config that trains the same thing.
/// ```
/// flatten(config) = { "a.b.c": value as TOML writes it }   over every key (defaults included)
/// differences     = keys whose values differ, minus the keys a resumed run may change:
///                   checkpoint.* (when to write checkpoints), train.log_every_steps (how often to print)
/// ```
/// Everything else (method, model, data, tasks, loss, optimiser, schedule, evaluation, seed, batch) changes
/// what the run computes, so a resume under a config that differs there is refused, naming the keys.
public struct ConfigDifference: Equatable, Sendable {
    /// One differing key: its dotted name and its value in each config (TOML text).
    public struct Key: Equatable, Sendable, CustomStringConvertible {
        public let name: String
        public let saved: String
        public let current: String

        public var description: String { "\(name): \(saved) in the checkpoint, \(current) now" }
    }

    /// Keys a resumed run may change, as dotted prefixes (a trailing dot: the whole table).
    public static let mayChange = ["checkpoint.", "train.log_every_steps"]

    /// The keys that matter, sorted by name.
    public let keys: [Key]

    public var isEmpty: Bool { keys.isEmpty }

    /// The differences between `saved` (the checkpoint's config) and `current`.
    public init(saved: TrainingConfig, current: TrainingConfig) throws {
        let old = try Self.flatten(ConfigValue.encoding(saved)), new = try Self.flatten(ConfigValue.encoding(current))
        keys = Set(old.keys).union(new.keys).sorted().compactMap { name in
            let (a, b) = (old[name] ?? "(absent)", new[name] ?? "(absent)")
            guard a != b, !Self.mayChange.contains(where: { name == $0 || ($0.hasSuffix(".") && name.hasPrefix($0)) })
            else { return nil }
            return Key(name: name, saved: a, current: b)
        }
    }

    private static func flatten(_ value: ConfigValue, path: String = "") -> [String: String] {
        guard case let .table(entries) = value else { return [path: value.inlineTOML] }
        var flat: [String: String] = [:]
        for (name, child) in entries {
            flat.merge(flatten(child, path: path.isEmpty ? name : path + "." + name)) { a, _ in a }
        }
        return flat
    }
}
