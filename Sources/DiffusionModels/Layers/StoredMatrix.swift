import TensorCore

/// A weight matrix (rows, cols) kept either in fp32 or, when its file stores half precision, as the file's
/// 16-bit values (half the memory: SDXL's 2.2G linear-layer parameters take 4.5 GB instead of 9), widened to fp32
/// into a scratch buffer on each use, which is cheap next to the 2 x tokens flops each weight takes part in
/// (bench/DESIGN_NOTES.md#half-precision-widening).
///
/// ```swift
/// let m = StoredMatrix(w, keeping: .float16)
/// m.multiplyTransposed(m: tokens, x, beta: 0, into: y, ldc: m.rows)   // y = x W^T
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

    /// The rows of `parts` one after another (same columns and precision): e.g. q, k and v projections as one
    /// matrix, so one sgemm with three times the output columns replaces three narrower ones.
    static func stacked(_ parts: [StoredMatrix]) -> StoredMatrix {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.cols == parts[0].cols && $0.precision == parts[0].precision },
                     "StoredMatrix.stacked: parts differ in columns or precision")
        let rows = parts.reduce(0) { $0 + $1.rows }
        if parts[0].precision == .float32 {
            return StoredMatrix(Tensor(shape: [rows, parts[0].cols], scalars: parts.flatMap { $0.full!.scalars }), keeping: .float32)
        }
        return StoredMatrix(rows: rows, cols: parts[0].cols, bits: parts.flatMap(\.bits), precision: parts[0].precision)
    }

    /// The matrix as fp32 (a copy for half storage).
    var float32: Tensor {
        if let full { return full }
        let scalars = [Float](unsafeUninitializedCapacity: rows * cols) { out, initialized in
            bits.withUnsafeBufferPointer { widen($0.baseAddress!, count: rows * cols, into: out.baseAddress!) }
            initialized = rows * cols
        }
        return Tensor(shape: [rows, cols], scalars: scalars)
    }
}

extension StoredMatrix {
    /// c (m, rows) = x (m, cols) W^T + beta c, with row stride `ldc` for c.
    ///
    /// fp32: one sgemm. Half storage:
    /// - many rows of x (m >= 256, the UNet's tokens): W widened by all workers into a scratch copy, then one
    ///   multithreaded sgemm (bench/DESIGN_NOTES.md#stored-matrix-widening);
    /// - few rows (text encoders, embeddings): each worker takes its own range of W's rows in pieces of about
    ///   256k weights, widened into its own cache-sized scratch and multiplied with single-threaded sgemms, so
    ///   the widening, which costs as much as these small GEMMs, runs in parallel with them.
    func multiplyTransposed(m: Int, _ x: UnsafePointer<Float>, beta: Float,
                            into c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || rows == 0 { return }
        if let full {
            full.withUnsafeBufferPointer { pw in
                let w = pw.baseAddress!
                let workers = Swift.min(Parallel.workers, rows / 64)
                if m >= 256 || workers < 2 {
                    sgemm(transposeB: true, m: m, n: rows, k: cols, a: x, lda: cols, b: w, ldb: cols,
                          beta: beta, c: c, ldc: ldc)
                    return
                }
                // Few rows: packing W dominates and each of OpenBLAS's threads packs its own part anyway, so
                // each worker takes its own 16-aligned range of W's rows in one single-threaded sgemm and the
                // fork/join inside OpenBLAS goes (bench/DESIGN_NOTES.md#stored-matrix-few-rows).
                ComputeThreads.withSingleThreadedBLAS {
                    Parallel.forEach(iterations: workers) { worker in
                        let lo = (rows * worker / workers) & ~15
                        let hi = worker == workers - 1 ? rows : (rows * (worker + 1) / workers) & ~15
                        sgemm(transposeB: true, m: m, n: hi - lo, k: cols, a: x, lda: cols, b: w + lo * cols, ldb: cols,
                              beta: beta, c: c + lo, ldc: ldc)
                    }
                }
            }
            return
        }
        bits.withUnsafeBufferPointer { pb in
            let src = pb.baseAddress!
            if m >= 256 {
                let count = rows * cols
                let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
                defer { buffer.deallocate() }
                widen(src, count: count, into: buffer)
                sgemm(transposeB: true, m: m, n: rows, k: cols, a: x, lda: cols, b: buffer, ldb: cols,
                      beta: beta, c: c, ldc: ldc)
                return
            }
            let piece = Swift.max(16, (1 << 18) / Swift.max(1, cols))
            let workers = Swift.max(1, Swift.min(Parallel.workers, rows / 16))
            ComputeThreads.withSingleThreadedBLAS {
                Parallel.forEach(iterations: workers) { worker in
                    let lo = rows * worker / workers, hi = rows * (worker + 1) / workers
                    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: Swift.min(piece, hi - lo) * cols)
                    defer { buffer.deallocate() }
                    var r0 = lo
                    while r0 < hi {
                        let n = Swift.min(piece, hi - r0)
                        widenSerially(src + r0 * cols, count: n * cols, into: buffer)
                        sgemm(transposeB: true, m: m, n: n, k: cols, a: x, lda: cols, b: buffer, ldb: cols,
                              beta: beta, c: c + r0, ldc: ldc)
                        r0 += n
                    }
                }
            }
        }
    }

    /// fp32 values of `count` stored 16-bit values, split across the workers.
    private func widen(_ src: UnsafePointer<UInt16>, count: Int, into dst: UnsafeMutablePointer<Float>) {
        Parallel.chunks(count: count, minChunk: 1 << 16) { r in
            widenSerially(src + r.lowerBound, count: r.count, into: dst + r.lowerBound)
        }
    }

    private func widenSerially(_ src: UnsafePointer<UInt16>, count: Int, into dst: UnsafeMutablePointer<Float>) {
        if precision == .bfloat16 {
            for i in 0..<count { dst[i] = bfloat16ToFloat(src[i]) }
        } else {
            for i in 0..<count { dst[i] = halfToFloat(src[i]) }
        }
    }
}
