import XCTest
@testable import Continual

/// Determinism, balance and captions of the procedural benchmark.
final class SyntheticShapesTests: XCTestCase {
    func pixels(_ dataset: SyntheticShapes, _ index: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: 3 * dataset.imageSize * dataset.imageSize)
        out.withUnsafeMutableBufferPointer { dataset.writePixels(at: index, into: $0.baseAddress!) }
        return out
    }

    func testSameSeedSameBytesDifferentSeedDifferent() throws {
        let a = try SyntheticShapes(count: 96, imageSize: 32, seed: 11)
        let b = try SyntheticShapes(count: 96, imageSize: 32, seed: 11)
        let c = try SyntheticShapes(count: 96, imageSize: 32, seed: 12)
        var labelsDiffer = false
        for i in 0..<a.count {
            let pa = pixels(a, i)
            XCTAssertTrue(pa.allSatisfy { $0.isFinite }, "sample \(i) fully written and finite")
            XCTAssertEqual(pa.map(\.bitPattern), pixels(b, i).map(\.bitPattern), "sample \(i) bytes, same seed")
            XCTAssertEqual(a.caption(at: i), b.caption(at: i), "sample \(i) caption, same seed")
            XCTAssertEqual(a.label(at: i), b.label(at: i), "sample \(i) label, same seed")
            XCTAssertNotEqual(pa, pixels(c, i), "sample \(i) differs under another seed")
            labelsDiffer = labelsDiffer || a.label(at: i) != c.label(at: i)
        }
        XCTAssertTrue(labelsDiffer, "another seed gives another label order")
        XCTAssertNotEqual(pixels(a, 0), pixels(a, 1), "two samples of one dataset differ")
    }

    /// Pins the generator's output (FNV-1a over the pixel bit patterns and the caption): a change in the
    /// drawing or rendering order, or a platform that renders other bytes, fails here.
    func testFirstSamplesArePinned() throws {
        let dataset = try SyntheticShapes(count: 48, imageSize: 24, seed: 2024)
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in 0..<4 {
            for word in pixels(dataset, i).map(\.bitPattern) + dataset.caption(at: i).utf8.map(UInt32.init) {
                hash = (hash ^ UInt64(word)) &* 0x100_0000_01B3
            }
        }
        XCTAssertEqual(hash, 9_059_426_183_371_882_400, "hash of samples 0..<4 (captions: \((0..<4).map(dataset.caption(at:))))")
    }

    func testEveryClassHasCountOverClassesSamples() throws {
        let perClass = 5
        let dataset = try SyntheticShapes(count: perClass * SyntheticShapes.classCount, imageSize: 16, seed: 3)
        var counts = [Int](repeating: 0, count: SyntheticShapes.classCount)
        for i in 0..<dataset.count { counts[dataset.label(at: i)] += 1 }
        XCTAssertEqual(counts, [Int](repeating: perClass, count: SyntheticShapes.classCount), "balanced classes")
        let firstLabels = (0..<SyntheticShapes.classCount).map { dataset.label(at: $0) }
        XCTAssertNotEqual(firstLabels, Array(0..<SyntheticShapes.classCount), "labels are shuffled over indices")

        let uneven = try SyntheticShapes(count: 100, imageSize: 16, seed: 3)
        var unevenCounts = [Int](repeating: 0, count: SyntheticShapes.classCount)
        for i in 0..<uneven.count { unevenCounts[uneven.label(at: i)] += 1 }
        XCTAssertEqual(unevenCounts.max()! - unevenCounts.min()!, 1, "100 over 48 classes: 2 or 3 each")
    }

    func testClassNamesAndCount() throws {
        let dataset = try SyntheticShapes(count: 1, imageSize: 8, seed: 0)
        XCTAssertEqual(SyntheticShapes.classCount, 48, "8 colours x 6 shapes")
        XCTAssertEqual(dataset.classNames.count, 48, "one name per class")
        XCTAssertEqual(dataset.classNames.first, "red circle", "class 0")
        XCTAssertEqual(dataset.classNames[7], "green square", "class 7 = colour 1, shape 1")
        XCTAssertEqual(dataset.classNames.last, "orange diamond", "class 47")
        XCTAssertEqual(Set(dataset.classNames).count, 48, "names are distinct")
    }

    func testCaptionNamesTheLabelsColourShapeSizeAndPlace() throws {
        let dataset = try SyntheticShapes(count: 480, imageSize: 16, seed: 5)
        var templates = Set<String>()
        var placements = Set<SyntheticPlacement>()
        var sizes = Set<Bool>()
        for i in 0..<dataset.count {
            let caption = dataset.caption(at: i)
            let sample = dataset.sample(at: i)
            let name = dataset.classNames[dataset.label(at: i)]
            let size = sample.isLarge ? "large" : "small"
            XCTAssertTrue(caption.contains("\(size) \(name)"), "caption \"\(caption)\" names \"\(size) \(name)\"")
            XCTAssertTrue(caption.contains(sample.placement.phrase), "caption \"\(caption)\" names its place")
            XCTAssertEqual(sample.shape, SyntheticShapes.shape(ofClass: dataset.label(at: i)), "shape of \(i)")
            XCTAssertEqual(sample.colour, SyntheticShapes.colour(ofClass: dataset.label(at: i)), "colour of \(i)")
            let others = dataset.classNames.filter { $0 != name && caption.contains(" \($0)") }
            XCTAssertTrue(others.isEmpty, "caption \"\(caption)\" names no other class: \(others)")
            templates.insert(caption.replacingOccurrences(of: "a \(size) \(name)", with: "#")
                .replacingOccurrences(of: sample.placement.phrase, with: "@"))
            placements.insert(sample.placement)
            sizes.insert(sample.isLarge)
        }
        XCTAssertEqual(templates, ["# @", "a photo of # @", "@, #"], "the three templates all occur")
        XCTAssertEqual(placements.count, 9, "all nine placements occur")
        XCTAssertEqual(sizes.count, 2, "small and large occur")
    }

    func testBadSizesThrow() {
        XCTAssertThrowsError(try SyntheticShapes(count: 0, imageSize: 32, seed: 0), "zero samples") {
            XCTAssertTrue("\($0)".contains("count 0"), "message names the count: \($0)")
        }
        XCTAssertThrowsError(try SyntheticShapes(count: 10, imageSize: -1, seed: 0), "negative size") {
            XCTAssertTrue("\($0)".contains("image size -1"), "message names the size: \($0)")
        }
    }
}
