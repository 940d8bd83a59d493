import CLAPACKE
import CMPI
import CScaLAPACK
import Foundation

/// Versions and file paths of the native libraries this process loaded, for `promptcl doctor` and for
/// run reports (so a result can say which MPI, LAPACK and ScaLAPACK produced it).
public enum SystemLibraries {
    /// MPI_Get_library_version, first line (callable before MPI is initialised).
    public static var mpiVersion: String {
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_library_version_string()) + 1)
        var length: Int32 = 0
        guard MPI_Get_library_version(&buffer, &length) == cmpi_success() else { return "unknown" }
        let text = String(cString: buffer).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.split(separator: "\n").first.map(String.init) ?? text
    }

    /// LAPACK's version as ILAVER reports it, "major.minor.patch".
    public static var lapackVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        LAPACKE_ilaver(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// The real path (symbolic links resolved, so it carries the full version, e.g.
    /// libscalapack-openmpi.so.2.2.1) of the loaded shared library that defines `symbol`; nil if no
    /// loaded library defines it.
    public static func libraryPath(definingSymbol symbol: String) -> String? {
        guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, symbol),
              let name = promptcl_shared_object_of(address) else { return nil }
        return realPath(String(cString: name))
    }

    /// The loaded ScaLAPACK library (dladdr on `pdgesvd_`, which this module links).
    public static var scalapackPath: String? {
        cscalapack_library_file().map { realPath(String(cString: $0)) }
    }
    private static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The loaded MPI library (found through `MPI_Init`).
    public static var mpiPath: String? { libraryPath(definingSymbol: "MPI_Init") }
    /// The loaded LAPACK (found through `dgesdd_`).
    public static var lapackPath: String? { libraryPath(definingSymbol: "dgesdd_") }
    /// The loaded OpenBLAS (found through `openblas_get_config`).
    public static var openBLASPath: String? { libraryPath(definingSymbol: "openblas_get_config") }
}
