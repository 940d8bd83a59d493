import XCTest
@testable import Numerics

final class CPUAffinityTests: XCTestCase {
    func testCPUListCounting() {
        XCTAssertEqual(CPUAffinity.count(list: "0"), 1, "single CPU")
        XCTAssertEqual(CPUAffinity.count(list: "0-3,8,10-11"), 7, "ranges and singles")
        XCTAssertNil(CPUAffinity.count(list: "3-1"), "reversed range")
        XCTAssertNil(CPUAffinity.count(list: "a"), "not a number")
    }

    func testAllowedCoresIsWithinTheMachine() {
        let allowed = CPUAffinity.allowedCores
        XCTAssertGreaterThanOrEqual(allowed, 1, "at least one core")
        XCTAssertLessThanOrEqual(allowed, ProcessInfo.processInfo.processorCount, "no more than the machine has")
    }
}
