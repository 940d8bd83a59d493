import XCTest
import CLIP
import Distributed
import Numerics
import TestSupport

/// The global contrastive loss computed across ranks (each rank holding an uneven share of the batch,
/// gathered with allgatherv) equals the single-process loss on the same batch, and each rank's gradient
/// rows equal the single-process gradient's rows for the samples it holds. Valid at any rank count.
final class GlobalContrastiveLossTests: XCTestCase {
    func testUnevenShardsGiveTheSingleProcessLossAndGradients() {
        let group = ProcessGroup.world
        let width = 6, total = 3 * group.size + 2
        // Uneven: rank r holds 3 rows, plus one more for ranks 0 and 1 (rank 0 holds all of them when alone).
        let counts = (0..<group.size).map { 3 + ($0 < 2 ? 1 : 0) + (group.size == 1 ? 1 : 0) }
        XCTAssertEqual(counts.reduce(0, +), total, "the split covers the batch")
        let offset = counts[..<group.rank].reduce(0, +), count = counts[group.rank]
        let images = randomNormal(total * width, seed: 11), texts = randomNormal(total * width, seed: 12)
        let logScale: Float = 2.3

        let single = ContrastiveObjective(capacity: total, width: width)
        let expectedLoss = images.withUnsafeBufferPointer { i in
            texts.withUnsafeBufferPointer { t in
                single.forward(image: i.baseAddress!, text: t.baseAddress!, count: total, logScale: logScale)
            }
        }
        let reference = single.backward()
        let expectedImage = Array(UnsafeBufferPointer(start: reference.dImage + offset * width, count: count * width))
        let expectedText = Array(UnsafeBufferPointer(start: reference.dText + offset * width, count: count * width))

        let global = ContrastiveObjective(capacity: total, width: width, gatherer: group, localCapacity: count)
        let loss = images.withUnsafeBufferPointer { i in
            texts.withUnsafeBufferPointer { t in
                global.forward(image: i.baseAddress! + offset * width, text: t.baseAddress! + offset * width,
                               count: count, logScale: logScale)
            }
        }
        let gradients = global.backward()
        XCTAssertLessThan(abs(loss - expectedLoss) / expectedLoss, 1e-6, "rank \(group.rank): loss \(loss) against \(expectedLoss)")
        let imageError = relativeError(Array(UnsafeBufferPointer(start: gradients.dImage, count: count * width)), expectedImage)
        let textError = relativeError(Array(UnsafeBufferPointer(start: gradients.dText, count: count * width)), expectedText)
        XCTAssertLessThan(imageError, 1e-5, "rank \(group.rank) of \(group.size): image gradient rows off by \(imageError)")
        XCTAssertLessThan(textError, 1e-5, "rank \(group.rank) of \(group.size): text gradient rows off by \(textError)")
        XCTAssertEqual(gradients.dLogScale, reference.dLogScale, accuracy: 1e-6 * abs(reference.dLogScale) + 1e-7,
                       "dlogit_scale is global and the same on every rank")
    }
}
