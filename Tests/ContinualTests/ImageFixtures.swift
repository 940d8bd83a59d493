import CLIP
import Continual
import Foundation
import TestSupport
import XCTest

/// `Tests/Fixtures/images/`, written by make_image_fixtures.py: small JPEGs, broken files, and
/// `expected.safetensors` with what Pillow and transformers make of them (uint8 values stored as I32).
struct ImageFixtures {
    static let folder = fixtureURL("images")
    let expected: SafetensorsFile

    init() throws {
        expected = try SafetensorsFile(contentsOf: Self.folder.appendingPathComponent("expected.safetensors"))
    }

    /// The JPEGs' names (without `.jpg`), from the tensors `NAME.rgb`; fails the test when there are none.
    func jpegNames(file: StaticString = #filePath, line: UInt = #line) -> [String] {
        let names = expected.tensorNames.filter { $0.hasSuffix(".rgb") }.map { String($0.dropLast(4)) }
        XCTAssertGreaterThanOrEqual(names.count, 7, "JPEG fixtures listed in expected.safetensors", file: file, line: line)
        return names
    }

    func jpegURL(_ name: String) -> URL { Self.folder.appendingPathComponent(name + ".jpg") }

    /// Tensor `name`, whose values must be bytes.
    func bytes(_ name: String) throws -> [UInt8] {
        try expected.int64s(name).map { value in
            guard let byte = UInt8(exactly: value) else { throw FixtureError("\(name) holds \(value), not a byte") }
            return byte
        }
    }

    /// Tensor `NAME.rgb`: Pillow's decoded RGB.
    func pillowRGB(_ name: String) throws -> RGBImage {
        let shape = try XCTUnwrap(expected.info(name + ".rgb")).shape
        return RGBImage(width: shape[1], height: shape[0], pixels: try bytes(name + ".rgb"))
    }

    struct FixtureError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

/// Largest absolute difference between two byte arrays of the same length.
func maxByteDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    precondition(a.count == b.count, "\(a.count) bytes against \(b.count)")
    return zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
}

/// Largest absolute difference between two float arrays of the same length.
func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) floats against \(b.count)")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
