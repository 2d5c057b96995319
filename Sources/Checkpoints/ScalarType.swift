import TensorCore
import Foundation

/// Element types found in checkpoints; all are widened to Float32 on load.
public enum ScalarType: Sendable {
    case float32, float16, bfloat16, float64, int64, int32, uint8, int8, bool

    /// The floating-point types (what weights, banks and features must be stored as).
    public static let floatingPoint: Set<ScalarType> = [.float32, .float16, .bfloat16, .float64]

    public init?(safetensorsName: String) {
        switch safetensorsName {
        case "F32": self = .float32
        case "F16": self = .float16
        case "BF16": self = .bfloat16
        case "F64": self = .float64
        case "I64": self = .int64
        case "I32": self = .int32
        case "U8": self = .uint8
        case "I8": self = .int8
        case "BOOL": self = .bool
        default: return nil
        }
    }

    public var byteWidth: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16: return 2
        case .uint8, .int8, .bool: return 1
        }
    }

    /// Little-endian bytes -> Float32 scalars.
    public func decode(_ raw: UnsafeRawBufferPointer, count: Int) -> [Float] {
        precondition(raw.count >= count * byteWidth)
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch self {
            case .float32:
                #if _endian(little)
                if count > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: count * 4) }
                #else
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
                #endif
            case .float16:
                for i in 0..<count { out[i] = halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
            case .bfloat16:
                for i in 0..<count { out[i] = bfloat16ToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
            case .float64:
                for i in 0..<count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))) }
            case .int64:
                for i in 0..<count { out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))) }
            case .int32:
                for i in 0..<count { out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))) }
            case .uint8, .bool:
                for i in 0..<count { out[i] = Float(raw[i]) }
            case .int8:
                for i in 0..<count { out[i] = Float(Int8(bitPattern: raw[i])) }
            }
            initialized = count
        }
    }

    /// The safetensors dtype name ("F32", "F16", ...).
    public var safetensorsName: String {
        switch self {
        case .float32: return "F32"
        case .float16: return "F16"
        case .bfloat16: return "BF16"
        case .float64: return "F64"
        case .int64: return "I64"
        case .int32: return "I32"
        case .uint8: return "U8"
        case .int8: return "I8"
        case .bool: return "BOOL"
        }
    }

    /// Float32 scalars -> little-endian bytes of this type, rounding to nearest even as torch's `.to(dtype)` does
    /// (NaN stays NaN). Only the floating types are encodable; returns nil for integer types.
    public func encode(_ scalars: UnsafeBufferPointer<Float>) -> Data? {
        switch self {
        case .float32: return Self.littleEndianBytes(scalars) { $0.bitPattern }
        case .float16: return Self.littleEndianBytes(scalars) { Float16($0).bitPattern }
        case .bfloat16: return Self.littleEndianBytes(scalars) { Self.bfloat16Bits($0) }
        case .float64: return Self.littleEndianBytes(scalars) { Double($0).bitPattern }
        case .int64, .int32, .uint8, .int8, .bool:
            return nil
        }
    }

    /// Each scalar's `bits` stored little-endian, `B.bitWidth / 8` bytes apiece.
    @inline(__always)
    static func littleEndianBytes<B: FixedWidthInteger>(_ scalars: UnsafeBufferPointer<Float>, _ bits: (Float) -> B) -> Data {
        let size = MemoryLayout<B>.size
        var out = Data(count: scalars.count * size)
        out.withUnsafeMutableBytes { o in
            for (i, x) in scalars.enumerated() { o.storeBytes(of: bits(x).littleEndian, toByteOffset: i * size, as: B.self) }
        }
        return out
    }

    /// Float32 -> bfloat16 bits, round to nearest even (c10/util/BFloat16.h `round_to_nearest_even`).
    static func bfloat16Bits(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let bits = x.bitPattern
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }
}
