import XCTest
import Numerics
import TestSupport

final class EmbeddingTests: XCTestCase {
    let vocabulary = 7, width = 5

    func lookup(_ table: [Float], ids: [Int32]) -> [Float] {
        var y = [Float](repeating: .nan, count: ids.count * width)
        TokenEmbedding.forward(y: &y, ids: ids, table: table, rows: ids.count, width: width)
        return y
    }

    func testTokenForwardCopiesRows() {
        let table = randomNormal(vocabulary * width, seed: 1)
        let ids: [Int32] = [3, 0, 6, 3]
        let y = lookup(table, ids: ids)
        for (n, id) in ids.enumerated() {
            XCTAssertEqual(Array(y[(n * width)..<((n + 1) * width)]),
                           Array(table[(Int(id) * width)..<((Int(id) + 1) * width)]), "row \(n) is not table row \(id)")
        }
    }

    /// dtable against central differences; ids repeat (3 twice) so the scatter must add, not assign;
    /// unused rows keep their old content.
    func testTokenBackwardMatchesFiniteDifferences() {
        let table = randomNormal(vocabulary * width, seed: 2)
        let ids: [Int32] = [3, 0, 6, 3, 1]
        let r = randomNormal(ids.count * width, seed: 3)
        let dTable0 = randomNormal(table.count, seed: 4)
        var dTable = dTable0
        TokenEmbedding.backward(dTable: &dTable, dy: r, ids: ids, rows: ids.count, width: width)
        let numerical = numericalGradient(table) { weightedSum(lookup($0, ids: ids), r) }
        assertGradient("TokenEmbedding dtable", accumulated: dTable, initial: dTable0, numerical: numerical, tolerance: 1e-5)
        for c in 0..<width {
            let expected = Double(r[0 * width + c]) + Double(r[3 * width + c])
            XCTAssertEqual(Double(dTable[3 * width + c] - dTable0[3 * width + c]), expected, accuracy: 1e-6,
                           "repeated id 3 column \(c): gradients not summed")
            for unused in [2, 4, 5] {
                XCTAssertEqual(dTable[unused * width + c], dTable0[unused * width + c], "unused row \(unused) changed")
            }
        }
    }

    func positional(_ y0: [Float], table: [Float], batch: Int, tokens: Int) -> [Float] {
        var y = y0
        PositionalEmbedding.forward(y: &y, table: table, batch: batch, tokens: tokens, width: width)
        return y
    }

    /// y[b, t] += pos[t] (added, not assigned), only the first `tokens` rows of a longer table used.
    func testPositionalForwardAdds() {
        let (batch, tokens, positions) = (2, 3, 5)
        let table = randomNormal(positions * width, seed: 5)
        let y0 = randomNormal(batch * tokens * width, seed: 6)
        let y = positional(y0, table: table, batch: batch, tokens: tokens)
        for b in 0..<batch {
            for t in 0..<tokens {
                for c in 0..<width {
                    let i = (b * tokens + t) * width + c
                    XCTAssertEqual(y[i], y0[i] + table[t * width + c], "y[\(b), \(t), \(c)]")
                }
            }
        }
    }

    /// dpos against central differences: summed over the batch, rows past `tokens` untouched.
    func testPositionalBackwardMatchesFiniteDifferences() {
        let (batch, tokens, positions) = (3, 4, 6)
        let table = randomNormal(positions * width, seed: 7)
        let y0 = randomNormal(batch * tokens * width, seed: 8)
        let r = randomNormal(batch * tokens * width, seed: 9)
        let dTable0 = randomNormal(table.count, seed: 10)
        var dTable = dTable0
        PositionalEmbedding.backward(dTable: &dTable, dy: r, batch: batch, tokens: tokens, width: width)
        let numerical = numericalGradient(table) { weightedSum(positional(y0, table: $0, batch: batch, tokens: tokens), r) }
        assertGradient("PositionalEmbedding dpos", accumulated: dTable, initial: dTable0, numerical: numerical, tolerance: 1e-4)
        for i in (tokens * width)..<(positions * width) {
            XCTAssertEqual(dTable[i], dTable0[i], "unused position entry \(i) changed")
        }
    }
}
