import CLAPACKE
import Foundation
import Numerics
import Prompting
import TestSupport
import XCTest

/// NSP2's null-space math: the threshold rules against the official code (fixtures), a known null space recovered
/// through LAPACK's SVD, the projector's algebra, the update transform (naive against BLAS, the paper's two
/// consistency conditions, through `Optimizer.step`'s hook) and L_LN against central differences.
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

    // MARK: A known null space

    func testSVDRecoversTheNullSpaceOfARankDeficientMatrix() throws {
        let (n, r) = (64, 8)
        let omega = lowRank(rows: n, columns: n, rank: r, seed: 11)
        let (s, vt) = try svd(omega, rows: n, columns: n)
        let norm = frobeniusNorm(omega)
        var worst = 0.0
        for i in r..<n {
            let v = Array(vt[(i * n)..<((i + 1) * n)])
            worst = max(worst, frobeniusNorm(multiply(omega, v, m: n, k: n, n: 1)) / norm)
        }
        print("rank-\(r) Omega (\(n) x \(n)): max ||Omega v|| / ||Omega|| over the null vectors \(worst); "
              + "s[r-1] = \(s[r - 1]), s[r] = \(s[r])")
        XCTAssertLessThan(worst, 1e-10, "right singular vectors r..<n are null vectors of Omega")
        let start = try NullSpaceSelection().startIndex(singularValues: s)
        XCTAssertEqual(start, r, "the adaptive rule puts the null space right after the gap: dimension n - r")
        XCTAssertEqual(n - start, n - r, "null-space dimension")
    }

    // MARK: Projector

    func testOrthogonalProjectorAnnihilatesTheRowSpace() throws {
        let (n, r) = (40, 7)
        let omega = lowRank(rows: 30, columns: n, rank: r, seed: 21)
        let (_, vt) = try svd(omega, rows: 30, columns: n)
        let projector = try NullSpaceProjector(rightSingularVectors: vt, rows: n, dimension: n, nullSpaceStart: r,
                                               eta: 1, scaling: .orthogonal)
        let p = projector.matrix
        XCTAssertEqual(projector.nullity, n - r, "null-space dimension")
        XCTAssertLessThan(frobeniusNorm(multiply(omega, p, m: 30, k: n, n: n)) / frobeniusNorm(omega), 1e-12,
                          "Omega P = 0: P maps into the null space")
        XCTAssertTrue(isSymmetric(p, n), "P is exactly symmetric")
        let squared = multiply(p, p, m: n, k: n, n: n)
        XCTAssertLessThan(maxDifference(squared, p), 1e-12, "P P = P: an orthogonal projector")
        let trace = (0..<n).reduce(0.0) { $0 + p[$1 * n + $1] }
        XCTAssertEqual(trace, Double(n - r), accuracy: 1e-12, "trace = dimension of the null space")
        XCTAssertEqual(projector.floats, p.map { Float($0) }, "the Float copy is P rounded once")
    }

    func testFrobeniusScaledProjectorMixesInTheIdentity() throws {
        let (n, r) = (32, 5)
        let omega = lowRank(rows: n, columns: n, rank: r, seed: 31)
        let (_, vt) = try svd(omega, rows: n, columns: n)
        let plain = try NullSpaceProjector(rightSingularVectors: vt, rows: n, dimension: n, nullSpaceStart: r,
                                           eta: 1, scaling: .orthogonal)
        let b = try NullSpaceProjector(rightSingularVectors: vt, rows: n, dimension: n, nullSpaceStart: r, eta: 1)
        XCTAssertEqual(frobeniusNorm(b.matrix), 1, accuracy: 1e-12, "B = U0^T U0 / ||U0^T U0||_F has norm 1")
        XCTAssertLessThan(maxDifference(b.matrix, plain.matrix.map { $0 / Double(n - r).squareRoot() }), 1e-14,
                          "B is the orthogonal projector over sqrt(n - k)")
        let eta = 0.97
        let mixed = try NullSpaceProjector(rightSingularVectors: vt, rows: n, dimension: n, nullSpaceStart: r, eta: eta)
        var expected = b.matrix.map { eta * $0 }
        for i in 0..<n { expected[i * n + i] += 1 - eta }
        XCTAssertLessThan(maxDifference(mixed.matrix, expected), 1e-15, "P = eta B + (1 - eta) I")
        XCTAssertTrue(isSymmetric(mixed.matrix, n), "P is exactly symmetric")
    }

    func testThinSVDGivesTheSameProjectorAsTheFullOne() throws {
        let (n, r) = (24, 6)
        let omega = lowRank(rows: r, columns: n, rank: r, seed: 41)
        let (s, vt) = try svd(omega, rows: r, columns: n)
        XCTAssertEqual(s.count, r, "a wide matrix has r singular values")
        let full = try NullSpaceProjector(rightSingularVectors: vt, rows: n, dimension: n, nullSpaceStart: r, eta: 0.9)
        let thin = try NullSpaceProjector(rightSingularVectors: Array(vt[0..<(r * n)]), rows: r, dimension: n,
                                          nullSpaceStart: r, eta: 0.9)
        XCTAssertLessThan(maxDifference(thin.matrix, full.matrix), 1e-14, "I - V_k^T V_k equals U0^T U0")
        let selected = try NullSpaceProjector(singularValues: s, rightSingularVectors: Array(vt[0..<(r * n)]),
                                              dimension: n, selection: NullSpaceSelection(rule: .adamNSCL), eta: 0.9)
        XCTAssertEqual(selected.nullSpaceStart, r, "padded zeros are the smallest singular values: adam-nscl picks them")
        XCTAssertLessThan(maxDifference(selected.matrix, full.matrix), 1e-14, "selection from the SVD, thin basis")
    }

    func testProjectorRejectsInconsistentInput() {
        let identity: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        XCTAssertThrowsError(try NullSpaceProjector(rightSingularVectors: identity, rows: 3, dimension: 3,
                                                    nullSpaceStart: 3, eta: 1), "no null space")
        XCTAssertThrowsError(try NullSpaceProjector(rightSingularVectors: Array(identity[0..<3]), rows: 1, dimension: 3,
                                                    nullSpaceStart: 2, eta: 1), "start beyond the given rows")
        XCTAssertThrowsError(try NullSpaceProjector(rightSingularVectors: identity, rows: 2, dimension: 3,
                                                    nullSpaceStart: 1, eta: 1), "9 values for 2 rows of 3")
        XCTAssertThrowsError(try NullSpaceProjector(rightSingularVectors: identity, rows: 3, dimension: 3,
                                                    nullSpaceStart: 1, eta: 1.5), "eta outside [0, 1]")
    }

    // MARK: Update transform

    func testUpdateProjectionNaiveMatchesBLAS() throws {
        let slices = [PromptSlice(offset: 3, tokens: 4, width: 20), PromptSlice(offset: 3 + 80 + 5, tokens: 3, width: 12)]
        let count = slices[1].offset + slices[1].count + 2
        let layers = try slices.enumerated().map { index, slice in
            try PromptUpdateProjection.Layer(
                slice: slice,
                tokenProjector: projector(dimension: slice.tokens, rank: 1, seed: 50 + UInt64(index), eta: 0.97),
                channelProjector: projector(dimension: slice.width, rank: 5, seed: 60 + UInt64(index), eta: 0.97))
        }
        let projection = PromptUpdateProjection(layers: layers)
        let update = randomNormal(count, seed: 70)
        let blas = OwnedFloats(update), naive = OwnedFloats(update)
        projection.apply(.blas, to: blas.pointer, count: count)
        projection.apply(.naive, to: naive.pointer, count: count)
        let error = relativeError(blas.values, naive.values)
        print("update projection: BLAS against naive, relative error \(error)")
        XCTAssertLessThan(error, 1e-5, "BLAS and naive projections agree")
        XCTAssertNotEqual(blas.values, update, "the projection changes the prompt slices")
        let outside = [0, 1, 2, 83, 84, 85, 86, 87, count - 2, count - 1]
        XCTAssertEqual(outside.map { blas.values[$0] }, outside.map { update[$0] }, "floats outside the slices untouched (BLAS)")
        XCTAssertEqual(outside.map { naive.values[$0] }, outside.map { update[$0] }, "floats outside the slices untouched (naive)")
    }

    func testProjectedUpdateSatisfiesBothConsistencyConditions() throws {
        let (l, d) = (5, 24)
        let omega1 = lowRank(rows: 40, columns: d, rank: 10, seed: 81)   // queries x keys: (rows, D)
        let omega2 = lowRank(rows: 30, columns: l, rank: 2, seed: 82)    // attention to prompts: (rows, L)
        let (_, vt1) = try svd(omega1, rows: 40, columns: d)
        let (_, vt2) = try svd(omega2, rows: 30, columns: l)
        let p1 = try NullSpaceProjector(rightSingularVectors: vt1, rows: d, dimension: d, nullSpaceStart: 10,
                                        eta: 1, scaling: .orthogonal)
        let p2 = try NullSpaceProjector(rightSingularVectors: vt2, rows: l, dimension: l, nullSpaceStart: 2,
                                        eta: 1, scaling: .orthogonal)
        let slice = PromptSlice(offset: 0, tokens: l, width: d)
        let projection = PromptUpdateProjection(layers: [try .init(slice: slice, tokenProjector: p2, channelProjector: p1)])
        let update = OwnedFloats(randomNormal(l * d, seed: 83))
        let before = frobeniusNorm(update.values.map(Double.init))
        projection.apply(to: update.pointer, count: l * d)
        let dP = update.values.map(Double.init)
        // Omega1 dP^T = 0: (rows, D) x (D, L); Omega2 dP = 0: (rows, L) x (L, D).
        let first = frobeniusNorm(multiply(omega1, transpose(dP, rows: l, columns: d), m: 40, k: d, n: l))
            / (frobeniusNorm(omega1) * before)
        let second = frobeniusNorm(multiply(omega2, dP, m: 30, k: l, n: d)) / (frobeniusNorm(omega2) * before)
        print("consistency conditions after projection: |Omega1 dP^T| \(first), |Omega2 dP| \(second) (relative)")
        XCTAssertLessThan(first, 1e-6, "Omega1 dP^T = 0 (keys of old queries unchanged)")
        XCTAssertLessThan(second, 1e-6, "Omega2 dP = 0 (old attention to prompts unchanged)")
        XCTAssertGreaterThan(frobeniusNorm(dP) / before, 0.1, "the projected update is not trivially zero")
    }

    func testOptimizerHookProjectsAdamsUpdateAndKeepsItsMoments() throws {
        let slice = PromptSlice(offset: 2, tokens: 4, width: 16)
        let count = slice.offset + slice.count + 3
        let layer = try PromptUpdateProjection.Layer(
            slice: slice, tokenProjector: projector(dimension: 4, rank: 1, seed: 91, eta: 0.97),
            channelProjector: projector(dimension: 16, rank: 6, seed: 92, eta: 0.97))
        let projection = PromptUpdateProjection(layers: [layer])
        // No weight decay: with it, Adam's gradient would include the (differing) parameters.
        let config = OptimizerConfig(kind: .adam, lr: 0.01)
        let (hooked, plain) = (Optimizer(config: config, parameterCount: count), Optimizer(config: config, parameterCount: count))
        let start = randomNormal(count, seed: 93)
        let withHook = OwnedFloats(start), without = OwnedFloats(start)
        for step in 0..<3 {
            let gradients = OwnedFloats(randomNormal(count, seed: 94 + UInt64(step)))
            hooked.step(parameters: withHook.pointer, gradients: gradients.pointer, lr: 0.01,
                        transformUpdate: { projection.apply(to: $0, count: $1) })
            plain.step(parameters: without.pointer, gradients: gradients.pointer, lr: 0.01)
            if step == 0 {
                // Same start and gradient: the raw updates are equal, so the hooked delta is the projected plain one.
                let projected = OwnedFloats(zip(without.values, start).map { $0 - $1 })
                projection.apply(.naive, to: projected.pointer, count: count)
                let delta = zip(withHook.values, start).map { $0 - $1 }
                XCTAssertLessThan(relativeError(delta, projected.values), 1e-4, "the applied update is P2 dP P1")
            }
        }
        XCTAssertEqual(hooked.state.firstMoment, plain.state.firstMoment, "m keeps the unprojected gradient")
        XCTAssertEqual(hooked.state.secondMoment, plain.state.secondMoment, "v keeps the unprojected gradient")
    }

    // MARK: L_LN

    func testStatisticsLossValueOnAHandExample() {
        // P: tokens [1 2 3] and [0 0 0]; P0: [0 0 0] and [1 1 1].
        let previous = OwnedFloats([0, 0, 0, 1, 1, 1]), current = OwnedFloats([1, 2, 3, 0, 0, 0])
        let slice = PromptSlice(offset: 0, tokens: 2, width: 3)
        let perToken = (2.0 + (2.0 / 3).squareRoot()) + (1.0 + 0.0)
        let mean = PromptStatisticsLoss(previous: previous.pointer, slices: [slice])
        XCTAssertEqual(mean.forward(current.pointer), perToken / 2, accuracy: 1e-15, "mean over tokens (official)")
        let sum = PromptStatisticsLoss(previous: previous.pointer, slices: [slice], weight: 0.5, reduction: .sum)
        XCTAssertEqual(sum.forward(current.pointer), 0.5 * perToken, accuracy: 1e-15, "sum over tokens (paper), weighted")
        XCTAssertEqual(mean.forward(previous.pointer), 0, "no loss at the previous task's prompts")
        let gradients = OwnedFloats([Float](repeating: 0.25, count: 6))
        mean.backward(previous.pointer, gradients: gradients.pointer)
        XCTAssertEqual(gradients.values, [Float](repeating: 0.25, count: 6),
                       "sgn(0) = 0 and zero-deviation tokens: no gradient at the previous prompts")
    }

    func testStatisticsLossGradientMatchesFiniteDifferences() {
        let slices = [PromptSlice(offset: 2, tokens: 3, width: 16), PromptSlice(offset: 2 + 48 + 4, tokens: 2, width: 8)]
        let count = slices[1].offset + slices[1].count + 3
        let previous = OwnedFloats(randomNormal(count, seed: 101))
        let current = zip(previous.values, randomNormal(count, seed: 102, std: 0.5)).map { $0 + $1 }
        for (reduction, weight) in [(PromptStatisticsLoss.Reduction.mean, 1.0), (.sum, 0.7)] {
            let loss = PromptStatisticsLoss(previous: previous.pointer, slices: slices, weight: weight, reduction: reduction)
            let numerical = numericalGradient(current, step: 1e-3) { values in
                let owned = OwnedFloats(values)
                return withExtendedLifetime(owned) { loss.forward(owned.pointer) }
            }
            let initial = randomNormal(count, seed: 103, std: 0.1)
            let (values, gradients) = (OwnedFloats(current), OwnedFloats(initial))
            withExtendedLifetime(values) { loss.backward(values.pointer, gradients: gradients.pointer) }
            assertGradient("L_LN (\(reduction.rawValue), weight \(weight))", accumulated: gradients.values,
                           initial: initial, numerical: numerical, tolerance: 1e-3)
            let outside = [0, 1, 50, 51, 52, 53, count - 1]
            XCTAssertEqual(outside.map { gradients.values[$0] }, outside.map { initial[$0] },
                           "\(reduction.rawValue): no gradient outside the prompt slices")
        }
    }

    // MARK: Helpers

    /// A (rows, columns) matrix of rank `rank`: the product of random (rows, rank) and (rank, columns) factors.
    private func lowRank(rows: Int, columns: Int, rank: Int, seed: UInt64) -> [Double] {
        let a = randomNormal(rows * rank, seed: seed).map(Double.init)
        let b = randomNormal(rank * columns, seed: seed &+ 1000).map(Double.init)
        return multiply(a, b, m: rows, k: rank, n: columns)
    }

    /// A projector of dimension n from the null space of a random rank-`rank` matrix, official scaling.
    private func projector(dimension n: Int, rank: Int, seed: UInt64, eta: Double) throws -> NullSpaceProjector {
        let (_, vt) = try svd(lowRank(rows: n, columns: n, rank: rank, seed: seed), rows: n, columns: n)
        return try NullSpaceProjector(rightSingularVectors: vt, rows: n, dimension: n, nullSpaceStart: rank, eta: eta)
    }

    /// LAPACKE_dgesvd of a row-major (m, n) matrix: min(m, n) singular values and the full (n, n) V^T.
    private func svd(_ matrix: [Double], rows m: Int, columns n: Int) throws -> (s: [Double], vt: [Double]) {
        var a = matrix
        var s = [Double](repeating: 0, count: min(m, n))
        var u = [Double](repeating: 0, count: 1)
        var vt = [Double](repeating: 0, count: n * n)
        var superb = [Double](repeating: 0, count: max(min(m, n) - 1, 1))
        let info = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "A")),
                                  Int32(m), Int32(n), &a, Int32(n), &s, &u, 1, &vt, Int32(n), &superb)
        XCTAssertEqual(info, 0, "LAPACKE_dgesvd info")
        return (s, vt)
    }

    /// (m, k) x (k, n), row-major, Double.
    private func multiply(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for p in 0..<k {
                let aValue = a[i * k + p]
                for j in 0..<n { c[i * n + j] += aValue * b[p * n + j] }
            }
        }
        return c
    }

    private func transpose(_ a: [Double], rows: Int, columns: Int) -> [Double] {
        (0..<(rows * columns)).map { index in a[(index % rows) * columns + index / rows] }
    }

    private func frobeniusNorm(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    private func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    private func isSymmetric(_ p: [Double], _ n: Int) -> Bool {
        (0..<n).allSatisfy { i in (0..<n).allSatisfy { j in p[i * n + j] == p[j * n + i] } }
    }
}
