import CMPI
import CScaLAPACK

/// A BLACS process grid over the ranks of a `ProcessGroup` (MPI_COMM_WORLD or a subgroup), with the ScaLAPACK tools that describe a
/// block-cyclic matrix on it (`numroc`, `descinit`).
///
/// ```
/// let grid = BlacsGrid(rows: group.size, columns: 1)   // P x 1: block rows, one process column
/// let localRows = grid.localRows(m, rowBlock: 64)        // numroc
/// let desc = grid.descriptor(rows: m, columns: n, rowBlock: 64, columnBlock: 64, leadingDimension: ...)
/// ```
/// Process (r, c) of a "Row"-ordered grid is the group's rank r * columns + c; the group's ranks beyond
/// rows * columns are not members (context -1) and get descriptors with context -1, which is what
/// Cpdgemr2d expects of them. Creating and releasing a grid are collective: every rank of the group must
/// do both, in the same order. Ranks outside the group take no part.
public final class BlacsGrid {
    /// The BLACS context, or -1 on a rank outside the grid.
    public let context: Int32
    /// Process rows and columns of the grid.
    public let rows: Int, columns: Int
    /// This rank's coordinates in the grid, or -1 outside it.
    public let myRow: Int, myColumn: Int
    /// The group whose ranks the grid is made of (its abort ends the job on a bad descriptor).
    public let group: ProcessGroup

    /// Whether this rank is a process of the grid.
    public var isMember: Bool { context >= 0 }

    /// A `rows` x `columns` grid in row-major process order, on the group's first rows * columns ranks.
    public init(rows: Int, columns: Int, group: ProcessGroup = .world) {
        precondition(rows >= 1 && columns >= 1 && rows * columns <= group.size,
                     "BLACS grid \(rows) x \(columns) needs at most \(group.size) ranks")
        self.group = group
        var me: Int32 = 0
        var processes: Int32 = 0
        Cblacs_pinfo(&me, &processes)  // MPI is already up (the group), so BLACS only attaches to it.
        let world = ProcessGroup.world
        if Int(processes) != world.size || Int(me) != world.rank {
            group.abort(message: "BLACS sees process \(me) of \(processes), MPI rank \(world.rank) of \(world.size)")
        }
        // A BLACS system handle for the group's communicator (MPI_COMM_WORLD's is BLACS's default one), the
        // grid on it, then the handle given back: the grid keeps communicators of its own.
        let system = Csys2blacs_handle(UnsafeMutableRawPointer(group.communicator))
        var context = system
        Cblacs_gridinit(&context, "Row", Int32(rows), Int32(columns))
        if group.communicator != cmpi_comm_world() { Cfree_blacs_system_handle(system) }
        var gridRows: Int32 = -1, gridColumns: Int32 = -1, myRow: Int32 = -1, myColumn: Int32 = -1
        if context >= 0 {
            Cblacs_gridinfo(context, &gridRows, &gridColumns, &myRow, &myColumn)
            if Int(gridRows) != rows || Int(gridColumns) != columns {
                group.abort(message: "BLACS made a \(gridRows) x \(gridColumns) grid, \(rows) x \(columns) asked")
            }
        }
        self.context = context
        self.rows = rows
        self.columns = columns
        self.myRow = Int(myRow)
        self.myColumn = Int(myColumn)
    }

    deinit {
        if isMember { Cblacs_gridexit(context) }
    }

    // MARK: Block-cyclic layout

    /// NUMROC: how many of `n` rows (or columns), dealt in blocks of `block` starting at process
    /// `source`, land on process `process` of `processes`.
    public static func numroc(_ n: Int, block: Int, process: Int, source: Int = 0, processes: Int) -> Int {
        var n32 = Int32(n), nb = Int32(block), iproc = Int32(process), isrc = Int32(source)
        var nprocs = Int32(processes)
        return Int(numroc_(&n32, &nb, &iproc, &isrc, &nprocs))
    }

    /// Rows of an `m`-row matrix in blocks of `rowBlock` held by this rank (0 outside the grid).
    public func localRows(_ m: Int, rowBlock: Int, sourceRow: Int = 0) -> Int {
        isMember ? Self.numroc(m, block: rowBlock, process: myRow, source: sourceRow, processes: rows) : 0
    }

    /// Columns of an `n`-column matrix in blocks of `columnBlock` held by this rank (0 outside the grid).
    public func localColumns(_ n: Int, columnBlock: Int, sourceColumn: Int = 0) -> Int {
        isMember ? Self.numroc(n, block: columnBlock, process: myColumn, source: sourceColumn, processes: columns) : 0
    }

    /// DESCINIT: the 9-integer descriptor of an `m` x `n` matrix in `rowBlock` x `columnBlock` blocks,
    /// first block on process (sourceRow, sourceColumn), local arrays column-major with leading dimension
    /// `leadingDimension`. Outside the grid: a descriptor with context -1. A bad argument is a bug in the
    /// caller: it aborts the job with DESCINIT's complaint.
    public func descriptor(rows m: Int, columns n: Int, rowBlock: Int, columnBlock: Int,
                           sourceRow: Int = 0, sourceColumn: Int = 0, leadingDimension: Int,
                           file: StaticString = #fileID, line: UInt = #line) -> [Int32] {
        guard isMember else {
            return [1, -1, Int32(m), Int32(n), Int32(rowBlock), Int32(columnBlock),
                    Int32(sourceRow), Int32(sourceColumn), Int32(max(1, leadingDimension))]
        }
        var desc = [Int32](repeating: 0, count: 9)
        var m32 = Int32(m), n32 = Int32(n), mb = Int32(rowBlock), nb = Int32(columnBlock)
        var rsrc = Int32(sourceRow), csrc = Int32(sourceColumn), ctxt = context, lld = Int32(leadingDimension)
        var info: Int32 = 0
        descinit_(&desc, &m32, &n32, &mb, &nb, &rsrc, &csrc, &ctxt, &lld, &info)
        if info != 0 {
            let names = ["", "desc", "m", "n", "mb", "nb", "irsrc", "icsrc", "ictxt", "lld"]
            let which = (1..<names.count).contains(Int(-info)) ? names[Int(-info)] : "?"
            group.abort(message: "DESCINIT rejected argument \(-info) (\(which)) at \(file):\(line): "
                        + "m \(m) n \(n) mb \(rowBlock) nb \(columnBlock) lld \(leadingDimension) "
                        + "on a \(rows) x \(columns) grid")
        }
        return desc
    }
}
