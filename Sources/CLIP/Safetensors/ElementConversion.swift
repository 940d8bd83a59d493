/// Exact conversions of little-endian tensor bytes to Float32 and Int64, by bit manipulation
/// (Float16 is not available on every platform the package builds for).
///
/// ```
/// F16  (1 sign, 5 exponent, 10 mantissa bits): normal    (-1)^s 2^(e-15) (1 + m/1024)  -> exponent e - 15 + 127
///                                              subnormal (-1)^s 2^-24 m                 -> Float(m) * 2^-24, exact
///                                              e = 31: infinity (m = 0) or NaN, payload kept (m << 13)
/// BF16 (the upper half of a Float32):          bits << 16, exact for every value, NaN payloads kept
/// F64:                                         rounded to nearest even, as a C cast (overflow to infinity)
/// ```
enum ElementConversion {
    /// The Float32 equal to the IEEE binary16 value with these bits.
    static func float(float16Bits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        default:
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
    }

    /// The Float32 equal to the bfloat16 value with these bits.
    static func float(bfloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Converts `destination.count` elements of `dtype` from `source` (little-endian, any alignment) to Float32.
    /// Returns false, converting nothing, when `dtype` is not a float type.
    static func convertFloats(_ dtype: TensorDType, from source: UnsafeRawBufferPointer,
                              to destination: UnsafeMutableBufferPointer<Float>) -> Bool {
        precondition(source.count == destination.count * dtype.byteCount, "byte count does not match element count")
        switch dtype {
        case .f32:
            for i in destination.indices {
                destination[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
        case .f16:
            for i in destination.indices {
                destination[i] = float(float16Bits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .bf16:
            for i in destination.indices {
                destination[i] = float(bfloat16Bits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .f64:
            for i in destination.indices {
                destination[i] = Float(Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            }
        default:
            return false
        }
        return true
    }

    /// Converts `count` elements of I64 or I32 from `source` (little-endian, any alignment) to Int64;
    /// nil when `dtype` is neither.
    static func int64s(_ dtype: TensorDType, from source: UnsafeRawBufferPointer, count: Int) -> [Int64]? {
        precondition(source.count == count * dtype.byteCount, "byte count does not match element count")
        switch dtype {
        case .i64:
            return (0..<count).map { Int64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case .i32:
            return (0..<count).map { Int64(Int32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        default:
            return nil
        }
    }

    /// Converts `count` elements of F64 (exact) or F32 (widened, exact) from `source` to Double; nil for other
    /// dtypes.
    static func doubles(_ dtype: TensorDType, from source: UnsafeRawBufferPointer, count: Int) -> [Double]? {
        precondition(source.count == count * dtype.byteCount, "byte count does not match element count")
        switch dtype {
        case .f64:
            return (0..<count).map { Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
        case .f32:
            return (0..<count).map { Double(Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))) }
        default:
            return nil
        }
    }
}
