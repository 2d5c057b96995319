import TensorCore

/// A weight matrix (rows, cols) kept either in fp32 or, when its file stores half precision, as the file's
/// 16-bit values (half the memory: SDXL's 2.2G linear-layer parameters take 4.5 GB instead of 9), widened to fp32
/// into a scratch buffer on each use. Widening costs about 0.3 ns per weight and core, next to the
/// 2 x tokens flops each weight takes part in.
///
/// ```swift
/// let m = StoredMatrix(w, keeping: .float16)
/// m.withFloat32 { p in sgemm(..., b: p, ...) }
/// ```
struct StoredMatrix: Sendable {
    let rows: Int
    let cols: Int
    private let full: Tensor?
    private let bits: [UInt16]
    private let precision: StoredPrecision

    /// The file's own 16-bit values `bits` (rows, cols) in `precision` (.float16 or .bfloat16), kept as they are.
    init(rows: Int, cols: Int, bits: [UInt16], precision: StoredPrecision) {
        precondition(precision != .float32 && bits.count == rows * cols, "StoredMatrix: \(bits.count) half values for \(rows)x\(cols)")
        self.rows = rows
        self.cols = cols
        self.full = nil
        self.bits = bits
        self.precision = precision
    }

    /// Reads `name` (rows, cols) from `source` and keeps it in `precision`: a source's own 16-bit values are kept
    /// as they are when they are in that precision; otherwise the fp32 values are read (and re-encoded).
    static func read(_ name: String, rows: Int, cols: Int, keeping precision: StoredPrecision,
                     from source: WeightSource) throws -> StoredMatrix {
        if precision != .float32, let (bits, stored) = try source.storedHalf(name, shape: [rows, cols]),
           stored == precision {
            return StoredMatrix(rows: rows, cols: cols, bits: bits, precision: stored)
        }
        return StoredMatrix(try source.tensor(name, shape: [rows, cols]), keeping: precision)
    }

    /// `tensor` (rows, cols) as read (fp32); with a half `precision` its values are re-encoded losslessly (they
    /// came from that precision).
    init(_ tensor: Tensor, keeping precision: StoredPrecision) {
        rows = tensor.shape[0]
        cols = tensor.count / max(1, rows)
        self.precision = precision
        switch precision {
        case .float32:
            full = tensor
            bits = []
        case .float16:
            full = nil
            bits = tensor.scalars.map { Float16($0).bitPattern }
        case .bfloat16:
            full = nil
            bits = tensor.scalars.map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) }
        }
    }

    /// The matrix as fp32 (a copy for half storage).
    var float32: Tensor {
        if let full { return full }
        return withFloat32 { p in Tensor(shape: [rows, cols], scalars: Array(UnsafeBufferPointer(start: p, count: rows * cols))) }
    }

    /// Calls `body` with the matrix as contiguous fp32 (rows, cols).
    func withFloat32<R>(_ body: (UnsafePointer<Float>) -> R) -> R {
        if let full { return full.withUnsafeBufferPointer { body($0.baseAddress!) } }
        let count = rows * cols
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        let bf16 = precision == .bfloat16
        bits.withUnsafeBufferPointer { pb in
            let src = pb.baseAddress!
            Parallel.chunks(count: count, minChunk: 1 << 16) { r in
                if bf16 {
                    for i in r { buffer[i] = bfloat16ToFloat(src[i]) }
                } else {
                    for i in r { buffer[i] = halfToFloat(src[i]) }
                }
            }
        }
        return body(buffer)
    }
}

extension StoredMatrix {
    /// c (m, rows) = x (m, cols) W^T + beta c, with row stride `ldc` for c.
    ///
    /// fp32: one sgemm. Half storage: the workers take equal ranges of W's rows and go through them in pieces of
    /// about 2M weights, each widened into the worker's own scratch (8 MiB: it stays in cache until the GEMM
    /// reads it) and multiplied there with a single-threaded sgemm. Widening all of W up front instead needed a
    /// fresh 50 MB buffer per call for SDXL's feed-forward layers and made the half model 25 % slower than fp32.
    func multiplyTransposed(m: Int, _ x: UnsafePointer<Float>, beta: Float,
                            into c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || rows == 0 { return }
        if let full {
            full.withUnsafeBufferPointer { pw in
                sgemm(transposeB: true, m: m, n: rows, k: cols, a: x, lda: cols, b: pw.baseAddress!, ldb: cols,
                      beta: beta, c: c, ldc: ldc)
            }
            return
        }
        let piece = Swift.max(64, (1 << 21) / Swift.max(1, cols))
        let workers = Swift.max(1, Swift.min(Parallel.workers, rows / 64))
        let bf16 = precision == .bfloat16
        bits.withUnsafeBufferPointer { pb in
            let src = pb.baseAddress!
            ComputeThreads.withSingleThreadedBLAS {
                Parallel.forEach(iterations: workers) { worker in
                    let lo = rows * worker / workers, hi = rows * (worker + 1) / workers
                    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: Swift.min(piece, hi - lo) * cols)
                    defer { buffer.deallocate() }
                    var r0 = lo
                    while r0 < hi {
                        let n = Swift.min(piece, hi - r0)
                        let from = src + r0 * cols
                        if bf16 {
                            for i in 0..<(n * cols) { buffer[i] = bfloat16ToFloat(from[i]) }
                        } else {
                            for i in 0..<(n * cols) { buffer[i] = halfToFloat(from[i]) }
                        }
                        sgemm(transposeB: true, m: m, n: n, k: cols, a: x, lda: cols, b: buffer, ldb: cols,
                              beta: beta, c: c + r0, ldc: ldc)
                        r0 += n
                    }
                }
            }
        }
    }
}
