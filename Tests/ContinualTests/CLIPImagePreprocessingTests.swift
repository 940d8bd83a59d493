import Foundation
import TestSupport
import XCTest
@testable import Continual

/// CLIP preprocessing (shorter side to S with Pillow's bicubic, centre crop, normalisation) against Pillow and
/// transformers' CLIP image processors.
final class CLIPImagePreprocessingTests: XCTestCase {
    static let size = 24

    /// One uint8 step after normalisation, at the smallest std: 1 / (255 * 0.26130258) = 0.0150.
    static let oneLevel: Float = 1 / (255 * CLIPPixels.std.min()!)

    /// transformers' get_resize_output_image_size: the shorter side becomes S, the longer S * long / short,
    /// truncated.
    func testResizedSizeKeepsTheAspectRatioTruncated() {
        let cases: [((Int, Int, Int), (Int, Int))] = [
            ((61, 47, 24), (31, 24)),    // 24 * 61 / 47 = 31.1
            ((40, 90, 24), (24, 54)),    // 54 exactly
            ((33, 33, 24), (24, 24)),
            ((97, 20, 24), (116, 24)),   // 116.4, upscaled
            ((640, 427, 224), (335, 224)),  // 335.7: a COCO image
        ]
        for ((width, height, size), expected) in cases {
            let resized = CLIPImagePreprocessing.resizedSize(width: width, height: height, shortestEdge: size)
            XCTAssertEqual(resized.width, expected.0, "\(width) x \(height) to \(size): width")
            XCTAssertEqual(resized.height, expected.1, "\(width) x \(height) to \(size): height")
        }
    }

    /// Resize and crop of Pillow's own decoded RGB equals Pillow's resize + transformers' centre crop, byte for byte.
    func testResizeAndCropMatchesPillowOnDecodedJPEGs() throws {
        let fixtures = try ImageFixtures()
        var worst = 0
        for name in fixtures.jpegNames() {
            let crop = CLIPImagePreprocessing.resizeAndCrop(try fixtures.pillowRGB(name), size: Self.size)
            let difference = maxByteDifference(crop, try fixtures.bytes(name + ".crop"))
            print("CLIPImagePreprocessingTests: \(name): max |resizeAndCrop - Pillow| = \(difference)")
            XCTAssertEqual(difference, 0, "\(name): resize and crop against Pillow's")
            worst = max(worst, difference)
        }
        print("CLIPImagePreprocessingTests: JPEG fixtures: max |resizeAndCrop - Pillow| = \(worst)")
    }

    /// The same on uniform noise (every rounding and clamping case shows), for downscales by up to 5.6,
    /// an upscale, no resize at all, odd crops, and tall images that Pillow resizes vertically first (and the
    /// tie that it does not).
    func testResizeAndCropMatchesPillowOnNoise() throws {
        let fixtures = try ImageFixtures()
        let cases = fixtures.expected.tensorNames.filter { $0.hasPrefix("resize/") && $0.hasSuffix(".input") }
            .map { String($0.dropLast(6)) }
        XCTAssertGreaterThanOrEqual(cases.count, 10, "noise cases in expected.safetensors")
        for name in cases {
            let shape = try XCTUnwrap(fixtures.expected.info(name + ".input")).shape
            let image = RGBImage(width: shape[1], height: shape[0], pixels: try fixtures.bytes(name + ".input"))
            let size = try XCTUnwrap(fixtures.expected.info(name + ".crop")).shape[1]
            let crop = CLIPImagePreprocessing.resizeAndCrop(image, size: size)
            let difference = maxByteDifference(crop, try fixtures.bytes(name + ".crop"))
            print("CLIPImagePreprocessingTests: \(name): max |resizeAndCrop - Pillow| = \(difference)")
            XCTAssertEqual(difference, 0, "\(name): resize and crop against Pillow's")
        }
    }

    /// Our whole pipeline (libjpeg-turbo decode, resize and crop, normalise) from the JPEG files against
    /// transformers' CLIPImageProcessorPil within 1e-2, and against CLIPImageProcessor (the default, torchvision
    /// backend, whose uint8 bicubic differs from Pillow's by one level at a few pixels) within one level.
    func testFullPipelineMatchesCLIPImageProcessor() throws {
        let fixtures = try ImageFixtures()
        var worstPillow: Float = 0, worstTorchvision: Float = 0
        for name in fixtures.jpegNames() {
            let image = try JPEGDecoder.decode(file: fixtures.jpegURL(name))
            let crop = CLIPImagePreprocessing.resizeAndCrop(image, size: Self.size)
            var pixels = [Float](repeating: .nan, count: crop.count)
            crop.withUnsafeBufferPointer { crop in
                pixels.withUnsafeMutableBufferPointer { CLIPPixels.normalise(crop, into: $0.baseAddress!) }
            }
            let pillow = maxAbsoluteDifference(pixels, try fixtures.expected.floats(name + ".pixel_values_pil"))
            let torchvision = maxAbsoluteDifference(pixels, try fixtures.expected.floats(name + ".pixel_values"))
            print("CLIPImagePreprocessingTests: \(name): max |ours - CLIPImageProcessorPil| = \(pillow), "
                  + "max |ours - CLIPImageProcessor| = \(torchvision)")
            XCTAssertLessThanOrEqual(pillow, 1e-2, "\(name): pixel values against CLIPImageProcessorPil")
            XCTAssertLessThanOrEqual(torchvision, Self.oneLevel * 1.001, "\(name): pixel values against CLIPImageProcessor")
            worstPillow = max(worstPillow, pillow)
            worstTorchvision = max(worstTorchvision, torchvision)
        }
        print("CLIPImagePreprocessingTests: all JPEGs: max |ours - CLIPImageProcessorPil| = \(worstPillow), "
              + "max |ours - CLIPImageProcessor| = \(worstTorchvision) (one uint8 level = \(Self.oneLevel))")
    }

    /// Normalisation: (value / 255 - mean[c]) / std[c], plane by plane.
    func testNormaliseUsesEachPlanesMeanAndStd() {
        let planar: [UInt8] = [0, 255, 255, 0, 128, 128]  // (3, 1, 2)
        var out = [Float](repeating: .nan, count: 6)
        planar.withUnsafeBufferPointer { planar in
            out.withUnsafeMutableBufferPointer { CLIPPixels.normalise(planar, into: $0.baseAddress!) }
        }
        for i in 0..<6 {
            let c = i / 2
            let expected = (Float(planar[i]) / 255 - CLIPPixels.mean[c]) / CLIPPixels.std[c]
            XCTAssertEqual(out[i], expected, accuracy: 1e-6, "element \(i) (channel \(c))")
        }
        XCTAssertEqual(out[0], -0.48145466 / 0.26862954, accuracy: 1e-6, "red 0")
        XCTAssertEqual(out[2], (1 - 0.4578275) / 0.26130258, accuracy: 1e-6, "green 255")
    }

    /// A gray plane becomes three equal channels.
    func testGrayInitialiserRepeatsTheValue() {
        let image = RGBImage(width: 2, height: 1, gray: [7, 200])
        XCTAssertEqual(image.pixels, [7, 7, 7, 200, 200, 200], "gray to RGB")
    }
}
