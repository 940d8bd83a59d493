import XCTest
@testable import Continual

/// How the loader sees the Codable config types (`ConfigValue.encoding`) and writes them (`tomlDocument`).
final class ConfigValueTests: XCTestCase {
    func testSectionEncodesEveryKeyWithWhatItAccepts() throws {
        var section = VPTSection()
        section.layers = []
        XCTAssertEqual(try ConfigValue.encoding(section), .table([
            "tokens": .integer(4),
            "layers": .array([], element: .integer(0)),
            "initialization": .choice("xavier-uniform", cases: ["xavier-uniform", "uniform-unit"]),
        ]), "an empty [Int] still takes integers; an enum takes its cases' raw values")
    }

    func testFloatIsWidenedThroughItsShortestDecimal() throws {
        XCTAssertEqual(try ConfigValue.encoding(Float(0.001)), .float(0.001), "0.001, not 0.0010000000474974513")
        for value: Float in [.leastNonzeroMagnitude, .leastNormalMagnitude, 1.0 / 3.0, 16_777_216, .greatestFiniteMagnitude] {
            guard case let .float(widened) = try ConfigValue.encoding(value) else {
                return XCTFail("\(value) encodes as a float")
            }
            XCTAssertEqual(Float(widened), value, "\(value) comes back from its Double \(widened)")
        }
    }

    func testValueEncodedAsOneValueIsAScalar() throws {
        /// A wrapper that encodes itself through a single-value container.
        struct Path: Encodable {
            let text: String
            func encode(to encoder: Encoder) throws {
                var container = encoder.singleValueContainer()
                try container.encode(text)
            }
        }
        XCTAssertEqual(try ConfigValue.encoding(Path(text: "/data")), .string("/data"), "a single value is the value")
    }

    func testDocumentWritesValuesThenSubTablesSorted() {
        let value = ConfigValue.table([
            "b": .table(["y": .array([.float(1), .float(0.5)], element: .float(0)), "x": .table([:])]),
            "a": .string("say \"hi\"\n"),
            "c": .boolean(true),
            "max-norm": .integer(-2),
            "odd key": .choice("vpt-seq", cases: ["vpt-seq"]),
        ])
        XCTAssertEqual(value.tomlDocument, """
            a = "say \\"hi\\"\\n"
            c = true
            max-norm = -2
            "odd key" = "vpt-seq"

            [b]
            y = [1.0, 0.5]

            [b.x]

            """, "plain keys first, then each sub-table under its header, sorted; strings escaped, odd keys quoted")
    }
}
