import CLAPACKE
import XCTest

/// Singular values of a row-major (rows, columns) Double matrix (LAPACKE_dgesdd, no vectors), descending.
func singularValues(_ matrix: [Double], rows: Int, columns: Int, file: StaticString = #filePath, line: UInt = #line) -> [Double] {
    var a = matrix
    var s = [Double](repeating: 0, count: min(rows, columns))
    var u = [Double](repeating: 0, count: 1), vt = [Double](repeating: 0, count: 1)
    let info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "N")), Int32(rows), Int32(columns), &a,
                              Int32(columns), &s, &u, 1, &vt, Int32(columns))
    XCTAssertEqual(info, 0, "LAPACKE_dgesdd info", file: file, line: line)
    return s
}

/// A^T A (columns x columns) of a row-major Double matrix with `columns` columns.
func gram(_ matrix: [Double], columns n: Int) -> [Double] {
    var g = [Double](repeating: 0, count: n * n)
    for r in 0..<(matrix.count / n) {
        for i in 0..<n { for j in 0..<n { g[i * n + j] += matrix[r * n + i] * matrix[r * n + j] } }
    }
    return g
}

/// max |a - b| / max |b| (equal lengths).
func maxRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "lengths \(a.count) and \(b.count)")
    let scale = b.map(abs).max() ?? 1
    return zip(a, b).map { abs($0 - $1) }.max()! / scale
}
