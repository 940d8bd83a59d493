import Foundation
import TestSupport

/// `Tests/Fixtures/nullspace/cases.json`, written by Tests/Fixtures/make_nullspace_fixtures.py: singular-value
/// spectra with the null-space start index NSP2's official code gives for each (adaptive rule at several offsets,
/// `times` rule at several multipliers; `start` null where the official code finds an empty null space), and for
/// some of them scipy's Gaussian smoothing of the spectrum.
struct NullSpaceFixtures: Decodable {
    struct Adaptive: Decodable { var offset: Double; var start: Int }
    struct AdamNSCL: Decodable { var multiplier: Double; var start: Int? }
    struct Case: Decodable {
        var name: String
        var singularValues: [Double]
        var adaptive: [Adaptive]
        var adamNscl: [AdamNSCL]
        var smoothed: [Double]?
    }

    var cases: [Case]

    static func load() throws -> NullSpaceFixtures {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(NullSpaceFixtures.self, from: Data(contentsOf: fixtureURL("nullspace/cases.json")))
    }
}
