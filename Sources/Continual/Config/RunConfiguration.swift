/// A config that `ConfigLoader` reads from TOML: every key has a default (`init()` gives them all, and is what
/// a file is laid over), the keys are the Codable keys, and `validate()` rejects values no run could mean with
/// a `ConfigError` naming the key. `TrainingConfig` (`promptcl train`) and `PretrainConfig` (`promptcl pretrain`).
public protocol RunConfiguration: Codable {
    init()
    func validate() throws
}

extension TrainingConfig: RunConfiguration {}
