import XCTest
import Prompting
import TestSupport

/// `StreamingQR` keeps a factor R with R^T R equal to the Gram of every row appended, whether the rows come
/// in blocks, from strided Float rows, or as two streams merged afterwards.
final class StreamingQRTests: XCTestCase {
    private let columns = 6, stride = 15

    /// `count` rows of `columns` values inside rows of `stride` floats (the rest is other heads' data).
    private func stridedRows(_ count: Int, seed: UInt64) -> [Float] { randomNormal(count * stride, seed: seed) }

    /// The Gram of the rows of `blocks`, read through the stride in Double.
    private func stridedGram(_ blocks: [[Float]]) -> [Double] {
        var g = [Double](repeating: 0, count: columns * columns)
        for block in blocks {
            for r in 0..<(block.count / stride) {
                for i in 0..<columns {
                    for j in 0..<columns { g[i * columns + j] += Double(block[r * stride + i]) * Double(block[r * stride + j]) }
                }
            }
        }
        return g
    }

    private func factorGram(_ qr: StreamingQR) -> [Double] { gram(qr.factor, columns: columns) }

    func testBlocksOfStridedRowsKeepTheGram() throws {
        let blocks = [stridedRows(4, seed: 1), stridedRows(9, seed: 2), stridedRows(1, seed: 3)]
        var qr = StreamingQR(columns: columns)
        for block in blocks { try qr.append(rows: block, count: block.count / stride, rowStride: stride) }
        XCTAssertEqual(qr.rowsSeen, 14, "rows counted")
        XCTAssertEqual(qr.factorRows, columns, "R is square once the rows outnumber the columns")
        for i in 0..<columns { for j in 0..<i { XCTAssertEqual(qr.factor[i * columns + j], 0, "R[\(i), \(j)] below the diagonal") } }
        let error = maxRelativeDifference(factorGram(qr), stridedGram(blocks))
        XCTAssertLessThan(error, 1e-12, "R^T R against the Gram of the rows: \(error)")
    }

    func testFactorHasTheStackedRowsSingularValues() throws {
        let blocks = [stridedRows(7, seed: 4), stridedRows(8, seed: 5)]
        var qr = StreamingQR(columns: columns)
        var stacked: [Double] = []
        for block in blocks {
            try qr.append(rows: block, count: block.count / stride, rowStride: stride)
            for r in 0..<(block.count / stride) { stacked += (0..<columns).map { Double(block[r * stride + $0]) } }
        }
        let expected = singularValues(stacked, rows: stacked.count / columns, columns: columns)
        let actual = singularValues(qr.factor, rows: qr.factorRows, columns: columns)
        XCTAssertLessThan(maxRelativeDifference(actual, expected), 1e-12, "singular values of R against those of all rows")
    }

    func testTwoStreamsMergedEqualOneStream() throws {
        let blocks = [stridedRows(5, seed: 6), stridedRows(3, seed: 7), stridedRows(6, seed: 8)]
        var whole = StreamingQR(columns: columns), first = StreamingQR(columns: columns), second = StreamingQR(columns: columns)
        for block in blocks { try whole.append(rows: block, count: block.count / stride, rowStride: stride) }
        try first.append(rows: blocks[0], count: 5, rowStride: stride)
        try second.append(rows: blocks[1], count: 3, rowStride: stride)
        try second.append(rows: blocks[2], count: 6, rowStride: stride)
        try first.append(factor: second)
        XCTAssertEqual(first.rowsSeen, whole.rowsSeen, "a merged factor counts both streams' rows")
        XCTAssertLessThan(maxRelativeDifference(factorGram(first), factorGram(whole)), 1e-12, "merged Gram against one stream's")
    }

    func testFewerRowsThanColumnsGiveATrapezoid() throws {
        var qr = StreamingQR(columns: columns)
        let block = stridedRows(2, seed: 9)
        try qr.append(rows: block, count: 2, rowStride: stride)
        XCTAssertEqual(qr.factorRows, 2, "two rows give a 2 x n factor")
        XCTAssertLessThan(maxRelativeDifference(factorGram(qr), stridedGram([block])), 1e-12, "R^T R of a wide factor")
    }
}
