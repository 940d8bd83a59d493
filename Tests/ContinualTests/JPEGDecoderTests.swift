import Foundation
import TestSupport
import XCTest
@testable import Continual

/// JPEG decoding through libjpeg-turbo against Pillow's decoding of the same files, and the errors of broken ones.
final class JPEGDecoderTests: XCTestCase {
    /// Largest per-byte difference allowed against Pillow, whose wheels bundle another libjpeg-turbo release
    /// than Debian's (same default IDCT and upsampling, so the results are expected to agree).
    static let tolerance = 1

    /// Every fixture JPEG (baseline and progressive; 4:2:0, 4:2:2, 4:4:4; grayscale; CMYK) decodes to
    /// Pillow's `Image.open(path).convert("RGB")`; prints the largest difference.
    func testDecodesLikePillow() throws {
        let fixtures = try ImageFixtures()
        var worst = 0
        for name in fixtures.jpegNames() {
            let decoded = try JPEGDecoder.decode(file: fixtures.jpegURL(name))
            let pillow = try fixtures.pillowRGB(name)
            XCTAssertEqual(decoded.width, pillow.width, "\(name): width")
            XCTAssertEqual(decoded.height, pillow.height, "\(name): height")
            guard decoded.pixels.count == pillow.pixels.count else { continue }
            let difference = maxByteDifference(decoded.pixels, pillow.pixels)
            print("JPEGDecoderTests: \(name): max |libjpeg-turbo - Pillow| = \(difference)")
            XCTAssertLessThanOrEqual(difference, Self.tolerance, "\(name): decoded RGB against Pillow's")
            worst = max(worst, difference)
        }
        print("JPEGDecoderTests: all JPEGs: max |libjpeg-turbo - Pillow| = \(worst)")
    }

    /// A gray JPEG comes out as RGB with three equal channels.
    func testGrayscaleComesOutAsThreeEqualChannels() throws {
        let fixtures = try ImageFixtures()
        let image = try JPEGDecoder.decode(file: fixtures.jpegURL("gray_50x37_baseline"))
        let pixels = image.pixels
        for i in 0..<image.width * image.height where pixels[3 * i] != pixels[3 * i + 1] || pixels[3 * i] != pixels[3 * i + 2] {
            return XCTFail("gray JPEG: pixel \(i) is \(pixels[3 * i ..< 3 * i + 3]), not three equal channels")
        }
        XCTAssertGreaterThan(Set(pixels).count, 10, "gray JPEG: not a flat image")
    }

    /// Bytes in memory decode as the file does.
    func testDecodesBytesInMemoryAsTheFile() throws {
        let fixtures = try ImageFixtures()
        let url = fixtures.jpegURL("shapes_40x90_progressive_444")
        let fromMemory = try JPEGDecoder.decode(Data(contentsOf: url), name: "in memory")
        XCTAssertEqual(fromMemory, try JPEGDecoder.decode(file: url), "decode(Data) against decode(file:)")
    }

    /// Pillow's CMYK-to-RGB conversion on values worked out by hand (Adobe-inverted input).
    func testAdobeCMYKConversionFollowsPillow() {
        // stored (inverted) c, m, y, k -> rgb: ink = 255 - stored, white = stored k,
        // rgb = white - round(ink * white / 255)
        let cases: [([UInt8], [UInt8])] = [
            ([255, 255, 255, 255], [255, 255, 255]),  // no ink at all: white
            ([0, 0, 0, 255], [0, 0, 0]),              // full C, M, Y: black
            ([128, 64, 200, 0], [0, 0, 0]),           // full K: black whatever the rest
            ([155, 255, 55, 200], [122, 200, 43]),    // 200 - round(100 * 200 / 255 = 78.4), 200 - 0, 200 - round(156.9)
        ]
        for (cmyk, rgb) in cases {
            let converted = cmyk.withUnsafeBufferPointer { JPEGDecoder.rgbFromAdobeCMYK($0) }
            XCTAssertEqual(converted, rgb, "CMYK \(cmyk)")
        }
    }

    /// Junk bytes between the last scan and EOI (libjpeg's warning "59 extraneous bytes before marker 0xd9") leave
    /// the image whole: the same pixels as the file without them.
    func testJunkBeforeTheEndMarkerDecodesTheWholeImage() throws {
        let clean = try JPEGDecoder.decode(file: ImageFixtures.folder.appendingPathComponent("gradient_61x47_baseline_420.jpg"))
        let url = ImageFixtures.folder.appendingPathComponent("tolerated/junk_before_eoi.jpg")
        let data = try Data(contentsOf: url)
        XCTAssertEqual(Array(data.suffix(66)), Array(1...64) + [0xff, 0xd9], "the fixture ends in 64 junk bytes, then EOI")
        let junk = try JPEGDecoder.decode(file: url)
        XCTAssertEqual(junk.width, clean.width, "width")
        XCTAssertEqual(junk.height, clean.height, "height")
        XCTAssertEqual(junk.pixels, clean.pixels, "the pixels differ from the file without the junk")
    }

    /// Each broken file fails with its path, the reason, and libjpeg's message.
    func testBrokenFilesFailNamingTheFile() throws {
        let broken = ImageFixtures.folder.appendingPathComponent("broken")
        let cases: [(String, JPEGDecodingError.Reason, String?)] = [
            ("truncated_half.jpg", .truncated, "Premature end of JPEG file"),
            ("corrupt_header.jpg", .undecodable, "Bogus marker length"),
            ("corrupt_data.jpg", .corrupt, "Corrupt JPEG data"),
            ("empty.jpg", .empty, "Empty input file"),
            ("png_renamed.jpg", .notJPEG, "Not a JPEG file: starts with 0x89 0x50"),
            ("missing.jpg", .unreadable, nil),  // the message is Foundation's
        ]
        for (file, reason, message) in cases {
            let url = broken.appendingPathComponent(file)
            XCTAssertThrowsError(try JPEGDecoder.decode(file: url), file) { error in
                guard let error = error as? JPEGDecodingError else {
                    return XCTFail("\(file): threw \(error), not a JPEGDecodingError")
                }
                print("JPEGDecoderTests: \(error)")
                XCTAssertEqual(error.name, url.path, "\(file): the error names the file")
                XCTAssertEqual(error.reason, reason, "\(file): reason")
                if let message {
                    XCTAssertTrue(error.message.contains(message), "\(file): message '\(error.message)' contains '\(message)'")
                }
                XCTAssertFalse(error.message.isEmpty, "\(file): a message")
                XCTAssertTrue(error.description.contains(url.path) && error.description.contains(reason.rawValue),
                              "\(file): description '\(error.description)' names the file and the reason")
            }
        }
    }
}
