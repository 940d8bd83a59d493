import XCTest
@testable import Continual

/// The rendered images show what the label says: the colour in the channel means, the shape in the mask.
final class SyntheticShapesRenderingTests: XCTestCase {
    /// Sample `index` un-normalised back to [0, 1] values, planes (3, S, S).
    func values(_ dataset: SyntheticShapes, _ index: Int) -> [Float] {
        let plane = dataset.imageSize * dataset.imageSize
        var out = [Float](repeating: .nan, count: 3 * plane)
        out.withUnsafeMutableBufferPointer { dataset.writePixels(at: index, into: $0.baseAddress!) }
        for c in 0..<3 {
            for i in 0..<plane { out[c * plane + i] = out[c * plane + i] * CLIPPixels.std[c] + CLIPPixels.mean[c] }
        }
        return out
    }

    func testChannelMeansFollowTheColourAt32Pixels() throws {
        let dataset = try SyntheticShapes(count: 4 * SyntheticShapes.classCount, imageSize: 32, seed: 9)
        let plane = 32 * 32
        for i in 0..<dataset.count {
            let v = values(dataset, i)
            let mean = (0..<3).map { c in v[c * plane ..< (c + 1) * plane].reduce(0, +) / Float(plane) }
            let (r, g, b) = (mean[0], mean[1], mean[2])
            let what = "\(dataset.caption(at: i)): means r \(r) g \(g) b \(b)"
            switch dataset.sample(at: i).colour {
            case .red: XCTAssertTrue(r > g && r > b, what)
            case .green: XCTAssertTrue(g > r && g > b, what)
            case .blue: XCTAssertTrue(b > r && b > g, what)
            case .yellow: XCTAssertTrue(r > b && g > b, what)
            case .magenta: XCTAssertTrue(r > g && b > g, what)
            case .cyan: XCTAssertTrue(g > r && b > r, what)
            case .orange: XCTAssertTrue(r > g && g > b, what)
            case .white: XCTAssertLessThan(max(r, g, b) - min(r, g, b), 0.01, what)
            }
            XCTAssertTrue(v.allSatisfy { (-0.001...1.001).contains($0) }, "values in [0, 1]: \(what)")
        }
    }

    /// Where the shape covers a pixel fully it shows the sample's colour; far from it, the dark background.
    func testShapePixelsCarryTheColourAndTheRestIsDark() throws {
        let dataset = try SyntheticShapes(count: 96, imageSize: 32, seed: 4)
        let side: Float = 32, plane = 32 * 32
        for i in 0..<dataset.count {
            let s = dataset.sample(at: i)
            let v = values(dataset, i)
            let rgb = s.colour.rgb
            let colour = [rgb.0, rgb.1, rgb.2].map { $0 * s.brightness }
            var inside = 0
            for y in 0..<32 {
                for x in 0..<32 {
                    let dx = Float(x) + 0.5 - s.centreX * side, dy = s.centreY * side - (Float(y) + 0.5)
                    let a = s.shape.coverage(x: dx, y: dy, radius: s.radius * side)
                    for c in 0..<3 {
                        let value = v[c * plane + y * 32 + x]
                        if a == 1 {
                            XCTAssertEqual(value, colour[c], accuracy: 1e-5, "sample \(i) pixel (\(x), \(y)) channel \(c)")
                        } else if a == 0 {
                            XCTAssertEqual(value, s.backgroundLevel, accuracy: 0.0501, "background of \(i) at (\(x), \(y))")
                        }
                    }
                    if a == 1 { inside += 1 }
                }
            }
            XCTAssertGreaterThan(inside, 4, "sample \(i) (\(dataset.caption(at: i))) has a visible shape")
        }
    }

    /// Masks (coverage > 0.5) of the six shapes at one place and size, 32 px: each pair differs in at
    /// least a fifth of the pixels their union covers, small or large.
    func testShapeMasksDifferBetweenShapes() {
        for radius: Float in [0.13 * 32 * 0.95, 0.21 * 32] {
            let masks = SyntheticShape.allCases.map { shape in
                (0..<32 * 32).map { i -> Bool in
                    shape.coverage(x: Float(i % 32) - 15.5, y: 15.5 - Float(i / 32), radius: radius) > 0.5
                }
            }
            for a in 0..<masks.count {
                XCTAssertGreaterThan(masks[a].filter { $0 }.count, 8, "\(SyntheticShape.allCases[a]) at radius \(radius)")
                for b in (a + 1)..<masks.count {
                    let union = zip(masks[a], masks[b]).filter { $0 || $1 }.count
                    let differ = zip(masks[a], masks[b]).filter { $0 != $1 }.count
                    XCTAssertGreaterThan(Float(differ), 0.2 * Float(union),
                                         "\(SyntheticShape.allCases[a]) vs \(SyntheticShape.allCases[b]), radius \(radius)")
                }
            }
        }
    }

    /// Edges are anti-aliased: some pixels are partly covered, between the background and the colour
    /// (centre off the pixel grid, as the jittered samples have it).
    func testEdgesAreAntiAliased() {
        for shape in SyntheticShape.allCases {
            let partial = (0..<32 * 32).filter { i in
                let a = shape.coverage(x: Float(i % 32) - 15.2, y: 15.7 - Float(i / 32), radius: 6.7)
                return a > 0.05 && a < 0.95
            }
            XCTAssertGreaterThan(partial.count, 4, "\(shape) has partly covered edge pixels")
        }
    }
}
