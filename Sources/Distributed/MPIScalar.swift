import CMPI

/// A Swift scalar with a matching MPI datatype, so one generic collective serves Float, Double, the
/// integer types and bytes. Conforming types must be trivial (plain bits, no references): the collectives
/// copy them as raw memory and may fill arrays of them without initialising first.
public protocol MPIScalar {
    /// The MPI datatype of one element (MPI_FLOAT for Float, ...).
    static var mpiDatatype: MPI_Datatype { get }
}

extension Float: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_float() } }
extension Double: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_double() } }
extension Int32: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_int32() } }
extension Int64: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_int64() } }
extension UInt8: MPIScalar { public static var mpiDatatype: MPI_Datatype { cmpi_uint8() } }

/// The reduction operators the collectives offer.
public enum ReduceOperation: Sendable {
    case sum, max, min

    var mpiOp: MPI_Op {
        switch self {
        case .sum: return cmpi_op_sum()
        case .max: return cmpi_op_max()
        case .min: return cmpi_op_min()
        }
    }
}
