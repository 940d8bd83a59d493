import XCTest
@testable import CLIP
import TestSupport

final class SafetensorsTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("SafetensorsTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: folder)
    }

    // MARK: Reading what the Python library wrote

    /// `Tests/Fixtures/safetensors/dtypes.json`, written by make_safetensors_fixtures.py.
    private struct Expected: Decodable {
        struct Tensor: Decodable {
            let dtype: String
            let shape: [Int]
            let float32Bits: [UInt32]?
            let int64: [Int64]?
            enum CodingKeys: String, CodingKey { case dtype, shape, float32Bits = "float32_bits", int64 }
        }
        let metadata: [String: String]
        let tensors: [String: Tensor]
    }

    /// Every dtype reads exactly as numpy / torch convert it: bit for bit, signed zeros, subnormals,
    /// infinities and NaN payloads included; the scalar and the empty tensor too.
    func testReadsEveryDTypeExactlyAsPythonWroteIt() throws {
        let url = fixtureURL("safetensors/dtypes.safetensors")
        let expected = try JSONDecoder().decode(Expected.self,
                                                from: Data(contentsOf: fixtureURL("safetensors/dtypes.json")))
        let file = try SafetensorsFile(contentsOf: url)
        XCTAssertEqual(file.metadata, expected.metadata, "metadata")
        XCTAssertEqual(file.tensorNames, expected.tensors.keys.sorted(), "tensor names, sorted")
        for (name, tensor) in expected.tensors {
            let info = try XCTUnwrap(file.info(name), "info(\(name))")
            XCTAssertEqual(info.name, name, "\(name): name")
            XCTAssertEqual(info.dtype.rawValue, tensor.dtype, "\(name): dtype")
            XCTAssertEqual(info.shape, tensor.shape, "\(name): shape")
            XCTAssertEqual(info.elementCount, tensor.shape.reduce(1, *), "\(name): element count")
            if let bits = tensor.float32Bits {
                let values = try file.floats(name)
                XCTAssertEqual(values.map(\.bitPattern), bits, "\(name): Float32 bit patterns")
            }
            if let integers = tensor.int64 {
                XCTAssertEqual(try file.int64s(name), integers, "\(name): Int64 values")
            }
        }
    }

    /// The F16 conversion against Swift's Float16 for all 65536 bit patterns (where Float16 exists);
    /// NaNs must stay NaNs of the same sign (the platform's conversion may quiet a signalling payload).
    func testFloat16ConversionMatchesFloat16ForEveryBitPattern() {
        #if !(os(macOS) && arch(x86_64))
        var mismatches: [String] = []
        for bits in 0...UInt16.max {
            let reference = Float(Float16(bitPattern: bits))
            let converted = ElementConversion.float(float16Bits: bits)
            let same = reference.isNaN
                ? converted.isNaN && converted.sign == reference.sign
                : converted.bitPattern == reference.bitPattern
            if !same { mismatches.append(String(bits, radix: 16)) }
        }
        XCTAssertEqual(mismatches, [], "F16 bit patterns converted differently from Float(Float16)")
        #endif
    }

    func testCopyFloatsIntoBufferOfWrongCountNamesTensorFileAndCounts() throws {
        let file = try SafetensorsFile(contentsOf: fixtureURL("safetensors/dtypes.safetensors"))
        var destination = [Float](repeating: 0, count: 5)
        assertThrows(containing: ["dtypes.safetensors", "'f32'", "[3, 4]", "expected a destination of 12 floats, found 5"]) {
            try destination.withUnsafeMutableBufferPointer { try file.copyFloats("f32", into: $0) }
        }
    }

    func testReadingTheWrongKindOfTensorIsAnError() throws {
        let file = try SafetensorsFile(contentsOf: fixtureURL("safetensors/dtypes.safetensors"))
        assertThrows(containing: ["dtypes.safetensors", "'i64'", "dtype I64", "cannot be read as floats"]) {
            _ = try file.floats("i64")
        }
        assertThrows(containing: ["dtypes.safetensors", "'f16'", "dtype F16", "cannot be read as Int64"]) {
            _ = try file.int64s("f16")
        }
        assertThrows(containing: ["dtypes.safetensors", "no tensor named 'missing'", "the file has 8"]) {
            _ = try file.floats("missing")
        }
        XCTAssertNil(file.info("missing"), "info of a missing tensor")
    }

    // MARK: Writing

    func testWriterRoundTripsValuesShapesAndMetadataWithAlignedData() throws {
        let url = folder.appendingPathComponent("round trip.safetensors")
        let specials: [Float] = [0, -0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1 / 3]
        var writer = SafetensorsWriter(metadata: ["format": "pt", "quote\"and\\slash": "line\nbreak"])
        try writer.add("weights.b", shape: [2, 4], floats: specials)
        try writer.add("ids", shape: [3], int64s: [49406, -1, .min])
        try writer.add("scale", shape: [], floats: [2.6592])
        try writer.add("empty", shape: [0, 3], floats: [])
        let doubles: [Double] = [1 / 3, -0.0, .infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e-300]
        try writer.add("statistics", shape: [3, 2], doubles: doubles)
        try writer.write(to: url)

        let file = try SafetensorsFile(contentsOf: url)
        XCTAssertEqual(file.metadata, ["format": "pt", "quote\"and\\slash": "line\nbreak"], "metadata")
        XCTAssertEqual(file.tensorNames, ["empty", "ids", "scale", "statistics", "weights.b"], "names")
        XCTAssertEqual(try file.doubles("statistics").map(\.bitPattern), doubles.map(\.bitPattern), "F64 bits")
        XCTAssertEqual(file.info("statistics")?.dtype, .f64, "F64 dtype")
        XCTAssertEqual(try file.doubles("scale"), [Double(Float(2.6592))], "F32 widened to Double")
        XCTAssertThrowsError(try file.doubles("ids"), "I64 is not read as Double")
        XCTAssertEqual(try file.floats("weights.b").map(\.bitPattern), specials.map(\.bitPattern), "F32 bits")
        XCTAssertEqual(file.info("weights.b")?.shape, [2, 4], "F32 shape")
        XCTAssertEqual(try file.int64s("ids"), [49406, -1, .min], "I64 values")
        XCTAssertEqual(file.info("ids")?.dtype, .i64, "I64 dtype")
        XCTAssertEqual(try file.floats("scale"), [2.6592], "scalar")
        XCTAssertEqual(file.info("scale")?.shape, [], "scalar shape")
        XCTAssertEqual(try file.floats("empty"), [], "empty tensor")
        XCTAssertEqual(file.info("empty")?.shape, [0, 3], "empty shape")

        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual((8 + headerLength) % 8, 0, "header padded so the data starts 8-byte aligned")
        XCTAssertEqual(file.info("ids")?.byteRange.lowerBound, 0, "8-byte elements laid out first, by name")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["round trip.safetensors"],
                       "no temporary file left behind")
    }

    func testWriterRejectsDuplicatesCountMismatchesAndBadNames() {
        var writer = SafetensorsWriter()
        XCTAssertNoThrow(try writer.add("a", shape: [2], floats: [1, 2]), "first add")
        assertThrows(containing: ["safetensors writer", "'a' was already added"]) {
            try writer.add("a", shape: [2], int64s: [1, 2])
        }
        assertThrows(containing: ["'b'", "shape [2, 3] holds 6 elements, but 5 values were given"]) {
            try writer.add("b", shape: [2, 3], floats: [1, 2, 3, 4, 5])
        }
        assertThrows(containing: ["'c'", "negative dimension in shape [-1, -2]"]) {
            try writer.add("c", shape: [-1, -2], floats: [1, 2])
        }
        assertThrows(containing: ["\"__metadata__\" is not allowed"]) {
            try writer.add("__metadata__", shape: [1], floats: [1])
        }
    }

    /// A tensor rejected by `add` raises before any file is touched: the old file keeps its bytes.
    func testCountMismatchLeavesTheExistingFileIntact() throws {
        let url = folder.appendingPathComponent("model.safetensors")
        let old = try writeOld(to: url)
        var writer = SafetensorsWriter()
        assertThrows(containing: ["'w'", "holds 4 elements, but 3 values"]) {
            try writer.add("w", shape: [2, 2], floats: [1, 2, 3])
        }
        XCTAssertEqual(try Data(contentsOf: url), old, "existing file unchanged")
    }

    /// The temporary file cannot be created (its name, longer than the destination's, is over the 255-byte
    /// limit): the error names the file and the old file keeps its bytes. Works as root too, unlike a
    /// read-only folder.
    func testFailedWriteLeavesTheExistingFileIntact() throws {
        let url = folder.appendingPathComponent(String(repeating: "m", count: 240) + ".safetensors")
        let old = try writeOld(to: url)
        var writer = SafetensorsWriter()
        try writer.add("w", shape: [1], floats: [7])
        assertThrows(containing: [url.lastPathComponent, "creating the temporary file", "failed"]) {
            try writer.write(to: url)
        }
        XCTAssertEqual(try Data(contentsOf: url), old, "existing file unchanged")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [url.lastPathComponent],
                       "nothing else in the folder")
    }

    /// The rename fails (the destination is a folder with a file in it): the temporary file is removed
    /// and the destination is untouched.
    func testFailedRenameRemovesTheTemporaryFile() throws {
        let destination = folder.appendingPathComponent("checkpoint.safetensors")
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: false)
        let inside = destination.appendingPathComponent("keep.txt")
        try Data("keep".utf8).write(to: inside)
        var writer = SafetensorsWriter()
        try writer.add("w", shape: [1], floats: [7])
        assertThrows(containing: ["checkpoint.safetensors", "renaming the temporary file over the destination failed"]) {
            try writer.write(to: destination)
        }
        XCTAssertEqual(try Data(contentsOf: inside), Data("keep".utf8), "destination folder untouched")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["checkpoint.safetensors"],
                       "temporary file removed")
    }

    func testWritingIntoAMissingFolderNamesThePath() throws {
        let url = folder.appendingPathComponent("absent/model.safetensors")
        var writer = SafetensorsWriter()
        try writer.add("w", shape: [1], floats: [7])
        assertThrows(containing: ["absent/model.safetensors", "No such file or directory"]) {
            try writer.write(to: url)
        }
    }

    func testWriterReplacesAnExistingFile() throws {
        let url = folder.appendingPathComponent("model.safetensors")
        _ = try writeOld(to: url)
        var writer = SafetensorsWriter()
        try writer.add("new", shape: [2], floats: [3, 4])
        try writer.write(to: url)
        let file = try SafetensorsFile(contentsOf: url)
        XCTAssertEqual(file.tensorNames, ["new"], "the new file replaced the old one")
        XCTAssertEqual(try file.floats("new"), [3, 4], "new values")
    }

    /// Other writers need not pad the header: data at any alignment still reads.
    func testReadsUnpaddedHeaderWithUnalignedData() throws {
        let values: [Float] = [1.5, -2, 3.25]
        let data = values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }
        let url = try raw("unpadded", header: #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#, data: data)
        XCTAssertEqual(try SafetensorsFile(contentsOf: url).floats("x"), values, "values at an odd offset")
    }

    // MARK: Bad input: each error names the file and the problem

    func testFileShorterThanEightBytes() throws {
        let url = folder.appendingPathComponent("short.safetensors")
        try Data([1, 2, 3]).write(to: url)
        assertRejected(url, "file is 3 bytes, shorter than the 8-byte header length")
    }

    func testHeaderLengthLargerThanFile() throws {
        let url = try raw("long-header", header: "{}", data: [], headerLength: 100)
        assertRejected(url, "header length 100 bytes is larger than the file (10 bytes)")
    }

    func testAbsurdHeaderLength() throws {
        let url = try raw("absurd", header: "{}", data: [], headerLength: 200_000_000)
        assertRejected(url, "header length 200000000 bytes is over the 100000000-byte limit")
    }

    func testHeaderNotUTF8() throws {
        let url = try raw("latin1", headerBytes: [0x7B, 0x22, 0xE9, 0x22, 0x3A, 0x7B, 0x7D, 0x7D], data: [])
        assertRejected(url, "header is not UTF-8 JSON: invalid JSON at byte 0: not valid UTF-8")
    }

    func testHeaderNotJSON() throws {
        let url = try raw("garbage", header: #"{"x": {"dtype": "F32",, }}"#, data: [])
        assertRejected(url, "header is not UTF-8 JSON: invalid JSON at byte 22: expected a string key")
    }

    func testHeaderNotAnObject() throws {
        let url = try raw("array", header: "[1, 2]", data: [])
        assertRejected(url, "header is an array, expected a JSON object")
    }

    func testEntryMissingAField() throws {
        for (missing, entry) in [("dtype", #"{"shape":[1],"data_offsets":[0,4]}"#),
                                 ("shape", #"{"dtype":"F32","data_offsets":[0,4]}"#),
                                 ("data_offsets", #"{"dtype":"F32","shape":[1]}"#)] {
            let url = try raw("missing-\(missing)", header: #"{"x":\#(entry)}"#, data: [0, 0, 0, 0])
            assertRejected(url, "tensor 'x': missing \"\(missing)\"")
        }
    }

    func testEntryFieldsOfWrongTypes() throws {
        let cases = [
            (#""a string""#, "entry is a string, expected an object with dtype, shape and data_offsets"),
            (#"{"dtype":32,"shape":[1],"data_offsets":[0,4]}"#, "dtype is an integer, expected a string"),
            (#"{"dtype":"F32","shape":"1","data_offsets":[0,4]}"#, "shape is a string, expected an array of integers"),
            (#"{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}"#, "shape holds a non-integer"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":[0,true]}"#, "data_offsets holds a boolean, expected integers"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":[0]}"#, "data_offsets [0] must be two integers [begin, end]"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":[4,0]}"#, "data_offsets [4, 0] must satisfy 0 <= begin <= end"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}"#, "unknown key \"extra\""),
        ]
        for (index, (entry, problem)) in cases.enumerated() {
            let url = try raw("types-\(index)", header: #"{"x":\#(entry)}"#, data: [0, 0, 0, 0])
            assertRejected(url, "tensor 'x': \(problem)")
        }
        let url = try raw("metadata", header: #"{"__metadata__":{"epoch":3}}"#, data: [])
        assertRejected(url, "__metadata__ values must be strings, found an integer")
    }

    func testUnknownDType() throws {
        let url = try raw("f12", header: #"{"x":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        assertRejected(url, "tensor 'x': unknown dtype \"F12\" (known: BOOL, U8")
    }

    func testNegativeDimension() throws {
        let url = try raw("negative", header: #"{"x":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]}}"#,
                          data: [UInt8](repeating: 0, count: 8))
        assertRejected(url, "tensor 'x': negative dimension -1 in shape [-1, 2]")
    }

    func testByteRangeNotMatchingShapeAndDType() throws {
        let url = try raw("span", header: #"{"x":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#,
                          data: [UInt8](repeating: 0, count: 24))
        assertRejected(url, "tensor 'x': data_offsets [0, 20] span 20 bytes, but shape [2, 3] of F32 needs 24")
    }

    func testTruncatedFile() throws {
        let header = #"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        let url = try raw("truncated", header: header, data: [UInt8](repeating: 0, count: 9))
        let start = 8 + header.utf8.count
        assertRejected(url, "truncated: needs \(start + 16) bytes, file has \(start + 9) (tensor 'x' ends at data offset 16")
    }

    func testOverlappingRanges() throws {
        let header = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#
        let url = try raw("overlap", header: header, data: [UInt8](repeating: 0, count: 24))
        assertRejected(url, "tensors 'a' (data_offsets [0, 16]) and 'b' (data_offsets [8, 24]) overlap")
    }

    func testDuplicateTensorNames() throws {
        let entry = #"{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        let url = try raw("duplicate", header: #"{"x":\#(entry),"x":\#(entry)}"#, data: [0, 0, 0, 0])
        assertRejected(url, "duplicate key \"x\"")
    }

    func testMissingFile() {
        assertRejected(folder.appendingPathComponent("nowhere.safetensors"), "cannot read the file")
    }

    // MARK: Helpers

    /// Writes a file to be replaced (under a short name, then moved to `url`) and returns its bytes.
    private func writeOld(to url: URL) throws -> Data {
        let staging = folder.appendingPathComponent("old.safetensors")
        var writer = SafetensorsWriter(metadata: ["version": "old"])
        try writer.add("old", shape: [3], floats: [1, 2, 3])
        try writer.write(to: staging)
        try FileManager.default.moveItem(at: staging, to: url)
        return try Data(contentsOf: url)
    }

    /// A hand-made file `<name>.safetensors`: the length prefix (the header's own unless given), header, data.
    private func raw(_ name: String, header: String, data: [UInt8], headerLength: UInt64? = nil) throws -> URL {
        try raw(name, headerBytes: Array(header.utf8), data: data, headerLength: headerLength)
    }

    private func raw(_ name: String, headerBytes: [UInt8], data: [UInt8], headerLength: UInt64? = nil) throws -> URL {
        let url = folder.appendingPathComponent("\(name).safetensors")
        let length = headerLength ?? UInt64(headerBytes.count)
        try Data(withUnsafeBytes(of: length.littleEndian) { Array($0) } + headerBytes + data).write(to: url)
        return url
    }

    /// Opening `url` fails with a `SafetensorsError` whose message names the file and contains `problem`.
    private func assertRejected(_ url: URL, _ problem: String, file: StaticString = #filePath, line: UInt = #line) {
        assertThrows(containing: [url.path, problem], file: file, line: line) {
            _ = try SafetensorsFile(contentsOf: url)
        }
    }

    /// `body` throws a `SafetensorsError` whose description contains every string of `parts`.
    private func assertThrows(containing parts: [String], file: StaticString = #filePath, line: UInt = #line,
                              _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected an error containing \(parts), nothing was thrown", file: file, line: line)
        } catch let error as SafetensorsError {
            for part in parts {
                XCTAssertTrue(error.description.contains(part), "\"\(error)\" should contain \"\(part)\"",
                              file: file, line: line)
            }
        } catch {
            XCTFail("expected a SafetensorsError, got \(error)", file: file, line: line)
        }
    }
}
