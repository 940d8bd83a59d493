import XCTest
import CLIP
@testable import Continual
import TestSupport

/// The classifier objectives' backward against central differences of their forward, and the sharded
/// cross-entropy's shares summing to the whole batch's mean.
final class ClassificationObjectiveTests: XCTestCase {
    private let width = 5, rows = 4, classCount = 6

    func testShardSharesSumToTheGlobalMean() {
        let logits = randomNormal(rows * classCount, seed: 3)
        let targets: [Int32] = [0, 3, 5, 1]
        let whole = ShardedCrossEntropy(rowCapacity: rows, columnCapacity: classCount)
        let mean = whole.forwardBackward(logits: logits, targets: targets, rows: rows, columns: classCount, globalRows: rows)
        let wholeGradient = Array(UnsafeBufferPointer(start: whole.dLogits, count: rows * classCount))
        let part = ShardedCrossEntropy(rowCapacity: 2, columnCapacity: classCount)
        var sum: Float = 0
        for start in [0, 2] {
            sum += logits.withUnsafeBufferPointer {
                part.forwardBackward(logits: $0.baseAddress! + start * classCount, targets: Array(targets[start..<start + 2]),
                                     rows: 2, columns: classCount, globalRows: rows)
            }
            let shareGradient = Array(UnsafeBufferPointer(start: part.dLogits, count: 2 * classCount))
            let expected = Array(wholeGradient[start * classCount..<(start + 2) * classCount])
            XCTAssertLessThan(relativeError(shareGradient, expected), 1e-6, "rows \(start)..<\(start + 2): dlogits of the share")
        }
        XCTAssertEqual(sum, mean, accuracy: 1e-6 * abs(mean), "the two shares' losses add up to the batch's mean")
    }

    func testTextClassifierGradientMatchesFiniteDifferences() {
        let objective = TextClassifierObjective(width: width, capacity: rows, maxClasses: classCount)
        objective.setClasses(textEmbeddings: randomNormal(3 * width, seed: 5), count: 3)
        let targets: [Int32] = [2, 0, 1, 2]
        let logScale: Float = 1.2
        let image = randomNormal(rows * width, seed: 6)
        func loss(_ x: [Float]) -> Double {
            Double(x.withUnsafeBufferPointer {
                objective.forwardBackward(image: $0.baseAddress!, targets: targets, count: rows, globalCount: 8,
                                          logScale: logScale).loss
            })
        }
        let numerical = numericalGradient(image, step: 1e-2, loss)
        let analytic = image.withUnsafeBufferPointer { pointer -> [Float] in
            let result = objective.forwardBackward(image: pointer.baseAddress!, targets: targets, count: rows,
                                                   globalCount: 8, logScale: logScale)
            return Array(UnsafeBufferPointer(start: result.dImage, count: rows * width))
        }
        let error = gradientError(analytic, numerical)
        XCTAssertLessThan(error, 2e-3, "text classifier dimage against central differences: \(error)")
    }

    func testLinearHeadGradientsMatchFiniteDifferences() {
        var layout = ParameterLayout()
        LinearHeadObjective.declare(into: &layout, classes: classCount, width: width)
        let values = ParameterBuffer(layout: layout), gradients = ParameterBuffer(layout: layout)
        LinearHeadObjective.initialize(values, classes: classCount, width: width, seed: 9)
        let head = LinearHeadObjective(width: width, capacity: rows, maxClasses: classCount)
        let columns = [4, 1, 2], targets: [Int32] = [0, 2, 1, 0]
        let image = randomNormal(rows * width, seed: 10)
        func run(_ x: [Float]) -> (loss: Float, dImage: [Float]) {
            gradients.zero()
            return x.withUnsafeBufferPointer {
                let result = head.forwardBackward(image: $0.baseAddress!, targets: targets, count: rows, globalCount: rows,
                                                  columns: columns, values: values, gradients: gradients)
                return (result.loss, Array(UnsafeBufferPointer(start: result.dImage, count: rows * width)))
            }
        }
        let dImage = run(image).dImage
        let dWeight = gradients.values(LinearHeadObjective.weightName), dBias = gradients.values(LinearHeadObjective.biasName)
        let imageError = gradientError(dImage, numericalGradient(image) { Double(run($0).loss) })
        XCTAssertLessThan(imageError, 2e-3, "linear head dimage: \(imageError)")

        let weights = values.values(LinearHeadObjective.weightName)
        let numericalWeight = numericalGradient(weights) { w in
            values[LinearHeadObjective.weightName].update(from: w, count: w.count)
            return Double(run(image).loss)
        }
        values[LinearHeadObjective.weightName].update(from: weights, count: weights.count)
        XCTAssertLessThan(gradientError(dWeight, numericalWeight), 2e-3, "linear head dweight")
        for c in [0, 3, 5] {
            XCTAssertEqual(dBias[c], 0, "class \(c) is not in play: no bias gradient")
        }
        let biases = values.values(LinearHeadObjective.biasName)
        let numericalBias = numericalGradient(biases) { b in
            values[LinearHeadObjective.biasName].update(from: b, count: b.count)
            return Double(run(image).loss)
        }
        XCTAssertLessThan(gradientError(dBias, numericalBias), 2e-3, "linear head dbias")
    }
}
