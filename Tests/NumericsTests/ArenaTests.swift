import XCTest
import Numerics
import TestSupport

final class ArenaTests: XCTestCase {
    /// Slices are laid out in order, 64-byte aligned, disjoint, inside the allocation, zero-filled.
    func testSlicesAreAlignedDisjointAndZeroed() {
        var plan = ArenaPlan()
        let sizes = [7, 16, 1, 0, 33, 5]
        let slices = sizes.map { plan.reserve($0) }
        XCTAssertEqual(plan.count, [16, 16, 16, 0, 48, 16].reduce(0, +), "plan rounds each slice up to 16 floats")
        for (slice, size) in zip(slices, sizes) { XCTAssertEqual(slice.count, size, "slice keeps its requested size") }
        let arena = Arena(plan)
        XCTAssertEqual(arena.count, plan.count, "arena holds the planned floats")
        XCTAssertEqual(arena.byteCount, plan.count * 4, "byteCount is 4 bytes per float")
        for (index, slice) in slices.enumerated() {
            let address = Int(bitPattern: arena[slice])
            XCTAssertEqual(address % 64, 0, "slice \(index) at \(address) is not 64-byte aligned")
            XCTAssertLessThanOrEqual(slice.offset + slice.count, arena.count, "slice \(index) outside the arena")
            if index > 0 {
                let previous = slices[index - 1]
                XCTAssertGreaterThanOrEqual(slice.offset, previous.offset + previous.count, "slice \(index) overlaps slice \(index - 1)")
            }
        }
        XCTAssertTrue((0..<arena.count).allSatisfy { arena.base[$0] == 0 }, "arena memory is not zero-filled")

        // Writing a full slice leaves every other slice untouched.
        for (index, slice) in slices.enumerated() {
            arena[slice].update(repeating: Float(index + 1), count: slice.count)
        }
        for (index, slice) in slices.enumerated() {
            for i in 0..<slice.count {
                XCTAssertEqual(arena[slice][i], Float(index + 1), "slice \(index) element \(i) overwritten by another slice")
            }
        }
    }

    /// An empty plan still allocates a minimal, aligned block; the empty slice resolves to its base.
    func testEmptyPlan() {
        let arena = Arena(ArenaPlan())
        XCTAssertEqual(arena.count, 16, "an empty plan allocates 16 floats")
        XCTAssertEqual(Int(bitPattern: arena.base) % 64, 0, "empty arena base is not 64-byte aligned")
        XCTAssertEqual(arena[.empty], arena.base, "the empty slice is the arena base")
    }
}
