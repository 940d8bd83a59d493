/// What a run's report says about the run besides its evaluations: who trained what, on how many ranks, how
/// long, and the settings to list (the lead's choice of config keys, in order).
public struct RunInfo: Equatable, Sendable {
    /// One line of the report's settings table: a config key and its value as text.
    public struct Setting: Codable, Equatable, Sendable {
        public var key: String
        public var value: String

        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }

    public var method: String
    public var dataset: String
    public var ranks: Int
    public var seed: Int
    public var globalBatch: Int
    /// Wall time of the whole run.
    public var seconds: Double
    public var settings: [Setting]
    public var forgettingVariant: ForgettingVariant

    public init(method: String, dataset: String, ranks: Int, seed: Int, globalBatch: Int, seconds: Double,
                settings: [Setting] = [], forgettingVariant: ForgettingVariant = .positive) {
        self.method = method
        self.dataset = dataset
        self.ranks = ranks
        self.seed = seed
        self.globalBatch = globalBatch
        self.seconds = seconds
        self.settings = settings
        self.forgettingVariant = forgettingVariant
    }
}
