import Foundation
import Numerics
import Prompting
import TestSupport
import XCTest

/// NSP2's null-space math: the threshold rules against the official code (fixtures).
final class NullSpaceTests: XCTestCase {
    // MARK: Threshold rules

    func testAdaptiveRuleMatchesTheOfficialCodeOnEveryFixture() throws {
        let fixtures = try NullSpaceFixtures.load()
        XCTAssertEqual(Set(fixtures.cases.map(\.singularValues.count)), [768, 128, 127, 4, 3],
                       "the fixtures cover the smoothed sizes, the size just under the limit, and the key sizes")
        for fixture in fixtures.cases {
            for expected in fixture.adaptive {
                let selection = NullSpaceSelection(rule: .adaptive, offset: expected.offset)
                let start = try selection.startIndex(singularValues: fixture.singularValues)
                XCTAssertEqual(start, expected.start, "\(fixture.name), offset \(expected.offset): null space start")
            }
        }
    }

    func testAdamNSCLRuleMatchesTheOfficialCodeOnEveryFixture() throws {
        let fixtures = try NullSpaceFixtures.load()
        var empties = 0
        for fixture in fixtures.cases {
            for expected in fixture.adamNscl {
                let selection = NullSpaceSelection(rule: .adamNSCL, multiplier: expected.multiplier)
                if let start = expected.start {
                    XCTAssertEqual(try selection.startIndex(singularValues: fixture.singularValues), start,
                                   "\(fixture.name), multiplier \(expected.multiplier): null space start")
                } else {
                    empties += 1
                    XCTAssertThrowsError(try selection.startIndex(singularValues: fixture.singularValues),
                                         "\(fixture.name), multiplier \(expected.multiplier): empty null space is an error")
                }
            }
        }
        XCTAssertGreaterThan(empties, 0, "the fixtures include the official default (multiplier 0), which finds nothing")
    }

    func testGaussianSmoothingMatchesScipy() throws {
        let fixtures = try NullSpaceFixtures.load()
        let smoothedCases = fixtures.cases.filter { $0.smoothed != nil }
        XCTAssertGreaterThanOrEqual(smoothedCases.count, 2, "fixtures with scipy's gaussian_filter1d output")
        for fixture in smoothedCases {
            let expected = try XCTUnwrap(fixture.smoothed, "\(fixture.name): smoothed values")
            let actual = GaussianSmoothing.filter(fixture.singularValues, sigma: 10)
            XCTAssertEqual(actual.count, expected.count, "\(fixture.name): one smoothed value per singular value")
            let scale = expected.map(abs).max() ?? 1
            let error = zip(actual, expected).map { abs($0 - $1) }.max() ?? .infinity
            let exact = zip(actual, expected).filter { $0 == $1 }.count
            print("gaussian_filter1d \(fixture.name): max |difference| \(error) (scale \(scale)), "
                  + "\(exact)/\(expected.count) bitwise equal")
            XCTAssertLessThan(error, 1e-14 * scale, "\(fixture.name): smoothing against scipy")
        }
    }

    func testSelectionRejectsWhatIsNotASpectrum() {
        let adaptive = NullSpaceSelection()
        XCTAssertThrowsError(try adaptive.startIndex(singularValues: [2, 1]), "the adaptive rule needs 3 values")
        XCTAssertThrowsError(try adaptive.startIndex(singularValues: [1, 2, 0.5, 0.1]), "ascending values")
        XCTAssertThrowsError(try adaptive.startIndex(singularValues: [3, 2, 1, -1]), "a negative value")
        XCTAssertThrowsError(try adaptive.startIndex(singularValues: [3, .nan, 1, 0]), "a NaN")
        XCTAssertThrowsError(try NullSpaceSelection(offset: .infinity).startIndex(singularValues: [3, 2, 1, 0]),
                             "an infinite offset")
        XCTAssertThrowsError(try NullSpaceSelection(rule: .adamNSCL).startIndex(singularValues: []), "no values")
        XCTAssertEqual(try NullSpaceSelection(rule: .adamNSCL).startIndex(singularValues: [3, 1, 1]), 1,
                       "multiplier 1: the smallest value and its ties")
    }

    func testSelectionEncodesTheRuleByItsConfigName() throws {
        let selection = NullSpaceSelection(rule: .adamNSCL, offset: 0, multiplier: 50)
        let json = String(decoding: try JSONEncoder().encode(selection), as: UTF8.self)
        XCTAssertTrue(json.contains("\"adam-nscl\""), "rule written as its config name: \(json)")
        XCTAssertEqual(try JSONDecoder().decode(NullSpaceSelection.self, from: Data(json.utf8)), selection,
                       "selection round-trips through JSON")
        XCTAssertEqual(NullSpaceRule.allCases.map(\.rawValue), ["adaptive", "adam-nscl"], "config names of the rules")
        XCTAssertEqual(NullSpaceSelection(), NullSpaceSelection(rule: .adaptive, offset: 0, multiplier: 1),
                       "the official default: adaptive, no offset")
    }
}
