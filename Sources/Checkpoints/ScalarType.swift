import Foundation

/// Element types found in checkpoints; all are widened to Float32 on load.
public enum ScalarType: Sendable {
    case float32, float16, bfloat16, float64, int64, int32, uint8, int8, bool

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
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
            case .float16:
                for i in 0..<count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))) }
            case .bfloat16:
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) << 16) }
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
}
