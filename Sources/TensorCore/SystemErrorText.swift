import Foundation

/// Words for a Foundation or system error, without Foundation's domain dumps ("The operation could not be completed.
/// (NSCocoaErrorDomain error 256.)"): the POSIX reason when there is one ("Too many levels of symbolic links"), else a
/// phrase for the Cocoa code. Callers put the path in front; this never names it.
public enum SystemErrorText {
    public static func reason(_ error: Error) -> String {
        if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? Error { return reason(underlying) }
        if ns.domain == NSCocoaErrorDomain { return cocoaReason(ns.code) }
        if error is CustomStringConvertible { return String(describing: error) }
        return "\(ns.domain) error \(ns.code)"
    }

    /// Any error in words: Foundation's as "<path>: <reason>", a JSON decoding error as the field path and what was
    /// wrong (`config.transform.resize: expected a number`), others as they describe themselves.
    public static func describe(_ error: Error) -> String {
        if let decoding = error as? DecodingError { return describe(decoding) }
        guard isFoundationError(error) else { return "\(error)" }
        return path(error).map { "\($0): \(reason(error))" } ?? reason(error)
    }

    /// `describe`, for an error from decoding `data`. Foundation reports a number that does not fit its field (5.5 or
    /// 1e300 for an integer) as invalid JSON at the top level, with no field; when `data` is valid JSON that is said
    /// instead.
    public static func describe(_ error: Error, decoding data: Data) -> String {
        if case let .dataCorrupted(context)? = error as? DecodingError, context.codingPath.isEmpty,
           context.underlyingError == nil, (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil {
            return "a number does not fit its field (a fraction or an out-of-range value where an integer is expected)"
        }
        return describe(error)
    }

    public static func describe(_ error: DecodingError) -> String {
        func field(_ path: [CodingKey]) -> String {
            let text = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : (text.isEmpty ? "the top level" : text)
        }
        switch error {
        case let .typeMismatch(type, context):
            return "\(field(context.codingPath)): expected \(typeName(type))"
        case let .valueNotFound(type, context):
            return "\(field(context.codingPath)): expected \(typeName(type)), found null"
        case let .keyNotFound(key, context):
            return "\(field(context.codingPath + [key])): missing"
        case let .dataCorrupted(context):
            // The JSON parser's own reason (position of the syntax error) is the useful part.
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return "\(field(context.codingPath)): \(underlying ?? context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int64.Type, is UInt64.Type, is Int32.Type, is UInt32.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return name
        }
    }

    /// The file a Foundation error is about, when it says.
    public static func path(_ error: Error) -> String? {
        let info = (error as NSError).userInfo
        if let path = info[NSFilePathErrorKey] as? String { return path }
        if let url = info[NSURLErrorKey] as? URL { return url.path }
        return nil
    }

    /// Whether `error` is Foundation's (whose own description is the unhelpful domain dump).
    public static func isFoundationError(_ error: Error) -> Bool {
        if error is CocoaError || error is POSIXError { return true }
        // Swift errors bridge to NSError with their type name as domain; Foundation's use the Cocoa/POSIX domains.
        let domain = (error as NSError).domain
        return domain == NSCocoaErrorDomain || domain == NSPOSIXErrorDomain
    }

    private static func cocoaReason(_ code: Int) -> String {
        switch CocoaError.Code(rawValue: code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
        case .fileWriteOutOfSpace: return "no space left on device"
        case .fileWriteVolumeReadOnly: return "read-only file system"
        case .fileWriteFileExists: return "already exists"
        case .fileReadCorruptFile: return "the file is corrupt or not in the expected format"
        case .fileReadTooLarge: return "the file is too large"
        case .fileReadInapplicableStringEncoding, .fileWriteInapplicableStringEncoding: return "not valid text in the expected encoding"
        case .fileReadUnknownStringEncoding: return "unknown text encoding"
        case .fileLocking: return "the file is locked"
        case .fileReadInvalidFileName, .fileWriteInvalidFileName: return "invalid file name"
        case .coderReadCorrupt, .coderValueNotFound: return "the data does not decode"
        default: return "file operation failed (code \(code))"
        }
    }
}
