import Foundation

/// A deliberate error on one rank at one step, for testing that a failing rank ends the whole job.
/// Set by the environment: `PROMPTCL_INJECT_FAILURE=RANK:STEP` (global step, from 0).
public struct InjectedFailure: Equatable, Sendable {
    public static let environmentKey = "PROMPTCL_INJECT_FAILURE"

    public let rank: Int
    public let globalStep: Int

    public init(rank: Int, globalStep: Int) {
        self.rank = rank
        self.globalStep = globalStep
    }

    /// The failure the environment asks for, nil when the variable is unset; throws when it is malformed.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> InjectedFailure? {
        guard let value = environment[environmentKey] else { return nil }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let rank = Int(parts[0]), let step = Int(parts[1]), rank >= 0, step >= 0 else {
            throw TrainingError("\(environmentKey)=\(value): expected RANK:STEP, two integers >= 0")
        }
        return InjectedFailure(rank: rank, globalStep: step)
    }
}
