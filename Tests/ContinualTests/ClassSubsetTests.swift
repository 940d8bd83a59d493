import XCTest
@testable import Continual

final class ClassSubsetTests: XCTestCase {
    func testKeepsAtMostPerClassOfEachClassInBaseOrderAndReadsThrough() throws {
        let base = try SyntheticShapes(count: 48 * 5 + 7, imageSize: 8, seed: 4)  // 7 classes have 6 samples
        let subset = ClassSubset(base, perClass: 3, seed: 11)
        XCTAssertEqual(subset.count, 48 * 3, "3 of each of the 48 classes")
        XCTAssertEqual(subset.kept, subset.kept.sorted(), "kept in the base's order")
        XCTAssertEqual(Set(subset.kept).count, subset.kept.count, "no sample twice")
        var perClass = [Int](repeating: 0, count: 48)
        for i in 0..<subset.count {
            perClass[subset.label(at: i)] += 1
            XCTAssertEqual(subset.label(at: i), base.label(at: subset.kept[i]), "label of sample \(i)")
            XCTAssertEqual(subset.caption(at: i), base.caption(at: subset.kept[i]), "caption of sample \(i)")
        }
        XCTAssertEqual(perClass, [Int](repeating: 3, count: 48), "samples per class")
        var mine = [Float](repeating: 0, count: 3 * 8 * 8), theirs = mine
        subset.writePixels(at: 5, into: &mine)
        base.writePixels(at: subset.kept[5], into: &theirs)
        XCTAssertEqual(mine, theirs, "pixels read through")

        XCTAssertEqual(ClassSubset(base, perClass: 3, seed: 11).kept, subset.kept, "the same seed keeps the same")
        XCTAssertNotEqual(ClassSubset(base, perClass: 3, seed: 12).kept, subset.kept, "another seed keeps others")
        XCTAssertEqual(ClassSubset(base, perClass: 100, seed: 11).count, base.count, "a large cap keeps everything")
    }

    /// `perDomain` keeps up to perClass of every (domain, class) pair; without it, of every class whatever its
    /// domain; a base without domains keeps the same with or without it.
    func testPerDomainCountsEveryDomainsClassesApart() throws {
        // 4 classes over 3 domains, 5 samples of each (domain, class) pair, interleaved.
        let base = DomainedDataset(labels: (0..<60).map { $0 % 4 }, domains: (0..<60).map { ($0 / 4) % 3 },
                                   classNames: ["cat", "dog", "ant", "bee"],
                                   domainNames: ["clipart", "painting", "sketch"])
        let byDomain = ClassSubset(base, perClass: 2, seed: 5, perDomain: true)
        var pairs = [Int](repeating: 0, count: 12)
        for i in 0..<byDomain.count { pairs[byDomain.label(at: i) * 3 + byDomain.domain(at: i)!] += 1 }
        XCTAssertEqual(pairs, [Int](repeating: 2, count: 12), "2 of each class in each domain")
        XCTAssertEqual(byDomain.kept, byDomain.kept.sorted(), "kept in the base's order")

        let byClass = ClassSubset(base, perClass: 2, seed: 5)
        var classes = [Int](repeating: 0, count: 4)
        for i in 0..<byClass.count { classes[byClass.label(at: i)] += 1 }
        XCTAssertEqual(classes, [2, 2, 2, 2], "2 of each class over all domains")

        let plain = try SyntheticShapes(count: 48 * 4, imageSize: 8, seed: 4)
        XCTAssertEqual(ClassSubset(plain, perClass: 3, seed: 11, perDomain: true).kept,
                       ClassSubset(plain, perClass: 3, seed: 11).kept, "no domains: the same samples either way")
    }
}
