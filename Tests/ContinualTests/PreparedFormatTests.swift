import Foundation
import XCTest
@testable import Continual

/// The pieces of the prepared-shard format: CRC-32, the shard header, the captions payload.
final class PreparedFormatTests: XCTestCase {
    func testCRC32KnownVectorsAndIncrementalUpdates() {
        let check = Array("123456789".utf8)
        XCTAssertEqual(check.withUnsafeBytes { CRC32.checksum($0) }, 0xCBF4_3926, "CRC-32 check value of \"123456789\"")
        XCTAssertEqual([UInt8]().withUnsafeBytes { CRC32.checksum($0) }, 0, "CRC-32 of nothing")
        let fox = Array("The quick brown fox jumps over the lazy dog".utf8)
        XCTAssertEqual(fox.withUnsafeBytes { CRC32.checksum($0) }, 0x414F_A339, "CRC-32 of the fox sentence")
        var crc = CRC32()
        fox[..<10].withUnsafeBytes { crc.update($0) }
        fox[10...].withUnsafeBytes { crc.update($0) }
        XCTAssertEqual(crc.value, 0x414F_A339, "two updates give the checksum of the whole")
        XCTAssertEqual(CRC32.hex(0x0000_ABCD), "0000abcd", "8 hex digits, zero-padded")
    }

    func testHeaderRoundTripsAndAnnouncesThePayload() throws {
        let header = ShardHeader(kind: .images, count: 7, shape: [3, 16, 16], checksum: 0xDEAD_BEEF)
        let bytes = header.bytes
        XCTAssertEqual(bytes.count, ShardHeader.size, "64 header bytes")
        XCTAssertEqual(Array(bytes[0..<8]), Array("PCLSHARD".utf8), "magic first")
        XCTAssertEqual(try bytes.withUnsafeBytes { try ShardHeader($0, file: "x") }, header, "header round trip")
        XCTAssertEqual(header.payloadBytes, 7 * 3 * 16 * 16, "images payload (count, 3, S, S)")
        XCTAssertEqual(ShardHeader(kind: .labels, count: 7, shape: [0, 0, 0]).payloadBytes, 28, "labels: int32 each")
        XCTAssertEqual(ShardHeader(kind: .captions, count: 2, shape: [3, 10, 0]).payloadBytes, 8 * 3 + 8 * 4 + 10,
                       "captions: two indices and the text")
    }

    func testDamagedHeadersAreRefusedNamingTheFile() {
        let good = ShardHeader(kind: .labels, count: 2, shape: [0, 0, 0]).bytes
        func refuse(_ edit: (inout [UInt8]) -> Void, _ phrase: String, _ what: String) {
            var bytes = good
            edit(&bytes)
            assertThrows(naming: "shard.bin", [phrase], { _ = try bytes.withUnsafeBytes { try ShardHeader($0, file: "shard.bin") } },
                         what)
        }
        refuse({ $0[0] = UInt8(ascii: "X") }, "PCLSHARD", "wrong magic")
        refuse({ $0[8] = 9 }, "version 9", "another version")
        refuse({ $0[12] = 7 }, "unknown shard kind 7", "unknown kind")
        refuse({ $0[60] = 1 }, "reserved", "non-zero reserved bytes")
        refuse({ $0[23] = 0x7F }, "beyond any file size", "absurd count")
        refuse({ $0.removeLast(10) }, "shorter than the 64-byte", "short header")
    }

    func testCaptionsPayloadRoundTrips() throws {
        let samples = [["a photo of a cat.", "ünïcode ✓"], ["one"], ["", "x", "yz"]]
        let payload = ShardCaptions.payload(samples)
        XCTAssertEqual(payload.captions, 6, "six captions")
        let header = ShardHeader(kind: .captions, count: 3, shape: [payload.captions, payload.textBytes, 0])
        XCTAssertEqual(header.payloadBytes, payload.bytes.count, "the header announces the payload's size")
        let file = header.bytes + payload.bytes
        try file.withUnsafeBytes { bytes in
            let captions = ShardCaptions(file: bytes, count: 3, captions: payload.captions)
            try captions.check(textBytes: payload.textBytes, name: "captions")
            for (i, expected) in samples.enumerated() {
                let read = (captions.first(i)..<captions.first(i + 1)).map {
                    String(decoding: UnsafeRawBufferPointer(rebasing: bytes[captions.text($0)]), as: UTF8.self)
                }
                XCTAssertEqual(read, expected, "sample \(i)'s captions read back")
            }
        }
        var broken = file
        broken[ShardHeader.size + 8] = 0  // sample 0 now has no caption: first[1] = 0
        broken.withUnsafeBytes { bytes in
            assertThrows(naming: "captions", ["sample 0 has no caption"], {
                try ShardCaptions(file: bytes, count: 3, captions: payload.captions)
                    .check(textBytes: payload.textBytes, name: "captions")
            }, "a falling caption index")
        }
    }

    func testFileNames() {
        XCTAssertEqual(PreparedFormat.fileName(split: .train, shard: 3, kind: .images), "train-00003.images", "name")
        XCTAssertEqual(PreparedFormat.fileName(split: .test, shard: 123456, kind: .captions), "test-123456.captions",
                       "more than 5 digits when needed")
    }
}
