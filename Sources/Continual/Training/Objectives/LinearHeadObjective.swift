import CLIP
import Numerics

/// Classification by a linear head on the image embeddings, trained with the prompts (VPT's head).
/// Its tensors live in the flat trainable buffer, one row per class of the dataset:
/// ```
/// head.weight (C_all, E), head.bias (C_all)          (torch.nn.Linear's initialisation, U(-1/sqrt(E), 1/sqrt(E)))
/// logits[n, k] = image[n] . weight[c_k] + bias[c_k]  for the classes c_k in play    (n, C)
/// loss = ShardedCrossEntropy(logits, targets)
/// backward: dweight[c_k] += sum_n dlogits[n, k] image[n];  dbias[c_k] += sum_n dlogits[n, k];
///           dimage[n] = sum_k dlogits[n, k] weight[c_k]                                (overwritten)
/// ```
final class LinearHeadObjective {
    static let weightName = "head.weight"
    static let biasName = "head.bias"

    let width: Int
    let capacity: Int
    private let logits, dImage: UnsafeMutablePointer<Float>
    private let crossEntropy: ShardedCrossEntropy
    private let maxClasses: Int

    init(width: Int, capacity: Int, maxClasses: Int) {
        self.width = width
        self.capacity = capacity
        self.maxClasses = maxClasses
        logits = .allocate(capacity: capacity * maxClasses)
        dImage = .allocate(capacity: capacity * width)
        crossEntropy = ShardedCrossEntropy(rowCapacity: capacity, columnCapacity: maxClasses)
    }

    deinit {
        logits.deallocate()
        dImage.deallocate()
    }

    static func declare(into layout: inout ParameterLayout, classes: Int, width: Int) {
        layout.append(weightName, [classes, width])
        layout.append(biasName, [classes])
    }

    static func initialize(_ values: ParameterBuffer, classes: Int, width: Int, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let bound = 1 / Float(width).squareRoot()
        generator.fillUniform(values[weightName], count: classes * width, low: -bound, high: bound)
        generator.fillUniform(values[biasName], count: classes, low: -bound, high: bound)
    }

    /// This rank's share of the loss over the classes `columns` (dataset class ids), accumulating the
    /// head's gradients; returns dloss/dimage (n, E), valid until the next call.
    func forwardBackward(image: UnsafePointer<Float>, targets: [Int32], count n: Int, globalCount: Int,
                         columns: [Int], values: ParameterBuffer,
                         gradients: ParameterBuffer) -> (loss: Float, dImage: UnsafePointer<Float>) {
        let c = columns.count, e = width
        precondition(c <= maxClasses, "\(c) classes in play, the head was planned for \(maxClasses)")
        let weight = values[Self.weightName]
        let dWeight = gradients[Self.weightName], dBias = gradients[Self.biasName]
        writeLogits(into: logits, image: image, count: n, columns: columns, values: values)
        let loss = crossEntropy.forwardBackward(logits: logits, targets: targets, rows: n, columns: c,
                                                globalRows: globalCount)
        dImage.update(repeating: 0, count: n * e)
        for row in 0..<n {
            for (k, classIndex) in columns.enumerated() {
                let g = crossEntropy.dLogits[row * c + k]
                dBias[classIndex] += g
                for j in 0..<e {
                    dWeight[classIndex * e + j] += g * image[row * e + j]
                    dImage[row * e + j] += g * weight[classIndex * e + j]
                }
            }
        }
        return (loss, UnsafePointer(dImage))
    }

    /// The logits (n, C) of `image` (n, E) over the classes `columns` (dataset class ids): the evaluation's
    /// classifier.
    func logits(image: UnsafePointer<Float>, count n: Int, columns: [Int], values: ParameterBuffer) -> [Float] {
        [Float](unsafeUninitializedCapacity: n * columns.count) { buffer, initialised in
            writeLogits(into: buffer.baseAddress!, image: image, count: n, columns: columns, values: values)
            initialised = n * columns.count
        }
    }

    /// `logits[n, k] = image[n] . weight[c_k] + bias[c_k]` for the classes c_k of `columns`.
    private func writeLogits(into logits: UnsafeMutablePointer<Float>, image: UnsafePointer<Float>, count n: Int,
                             columns: [Int], values: ParameterBuffer) {
        let c = columns.count, e = width
        let weight = values[Self.weightName], bias = values[Self.biasName]
        for row in 0..<n {
            for (k, classIndex) in columns.enumerated() {
                var dot = bias[classIndex]
                for j in 0..<e { dot += image[row * e + j] * weight[classIndex * e + j] }
                logits[row * c + k] = dot
            }
        }
    }
}
