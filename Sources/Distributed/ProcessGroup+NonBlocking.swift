import CMPI

/// Non-blocking collectives: they return a request at once and the communication runs while the caller
/// computes (see `AllreduceRequest` for how Open MPI advances them). MPI's ordering rule holds as for the
/// blocking ones: every rank starts the same collectives in the same order, blocking and non-blocking alike.
extension ProcessGroup {
    /// Starts an in-place all-reduce of `buffer` (MPI_Iallreduce with MPI_IN_PLACE) and returns its request.
    /// ```
    /// after request.wait():  buffer[i] <- op over r of buffer_r[i]
    /// ```
    /// `buffer` must stay allocated and untouched until the request completes. Buffers over 2^30 elements go
    /// out as several requests, one per chunk, held by the one request returned.
    public func startAllreduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ operation: ReduceOperation,
                                              file: StaticString = #fileID, line: UInt = #line) -> AllreduceRequest {
        let call = "MPI_Iallreduce(\(buffer.count) x \(T.self), \(operation))"
        var requests: [MPI_Request?] = []
        if let base = buffer.baseAddress {
            var offset = 0
            while offset < buffer.count {
                let count = min(buffer.count - offset, Self.maximumChunk)
                var request: MPI_Request? = cmpi_request_null()
                check(MPI_Iallreduce(cmpi_in_place(), base + offset, Int32(count), T.mpiDatatype, operation.mpiOp,
                                     communicator, &request), call, file: file, line: line)
                requests.append(request)
                offset += count
            }
        }
        return AllreduceRequest(group: self, requests: requests, call: call, file: file, line: line)
    }

    /// Starts an in-place sum over all ranks of `buffer`: `startAllreduce(buffer, .sum)`.
    public func startAllreduceSum<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>,
                                                 file: StaticString = #fileID, line: UInt = #line) -> AllreduceRequest {
        startAllreduce(buffer, .sum, file: file, line: line)
    }
}
