import Foundation
import Numerics
import TestSupport
import XCTest

/// `Tests/Fixtures/optimizers/`, written by Tests/Fixtures/make_optimizer_fixtures.py: `cases.json` (hyper-parameters,
/// learning rates, torch's scheduler rates and clipping norms, and an index of the tensors) and `tensors.f32`
/// (the tensors, raw little-endian Float32). Not safetensors: that reader is in CLIP, which NumericsTests cannot see.
struct OptimizerFixtures: Decodable {
    struct TensorEntry: Decodable { var name: String; var offset: Int; var count: Int }
    struct OptimizerCase: Decodable { var name: String; var config: OptimizerConfig; var lrs: [Float]; var steps: Int }
    struct ClippingCase: Decodable { var name: String; var maxNorm: Float; var norm: Float }
    struct ScheduleCase: Decodable { var name: String; var schedule: LearningRateSchedule; var rates: [Float] }
    struct Schedules: Decodable { var base: Float; var epochs: Int; var stepsPerEpoch: Int; var cases: [ScheduleCase] }

    var tensors: [TensorEntry]
    var optimizers: [OptimizerCase]
    var clipping: [ClippingCase]
    var schedules: Schedules
    private var values: [Float] = []

    enum CodingKeys: String, CodingKey { case tensors, optimizers, clipping, schedules }

    static func load(file: StaticString = #filePath, line: UInt = #line) throws -> OptimizerFixtures {
        let directory = fixtureURL("optimizers")
        var fixtures = try JSONDecoder().decode(OptimizerFixtures.self,
                                                from: Data(contentsOf: directory.appendingPathComponent("cases.json")))
        let bytes = try Data(contentsOf: directory.appendingPathComponent("tensors.f32"))
        fixtures.values = bytes.withUnsafeBytes { raw in
            (0..<(bytes.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
        let needed = fixtures.tensors.map { $0.offset + $0.count }.max() ?? 0
        XCTAssertEqual(fixtures.values.count, needed, "tensors.f32 holds \(fixtures.values.count) floats, the index needs \(needed)",
                       file: file, line: line)
        return fixtures
    }

    /// The tensor called `name`, failing the test when the fixture has none.
    func tensor(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [Float] {
        let entry = try XCTUnwrap(tensors.first { $0.name == name }, "no tensor \(name) in optimizers/cases.json",
                                  file: file, line: line)
        return Array(values[entry.offset..<(entry.offset + entry.count)])
    }
}
