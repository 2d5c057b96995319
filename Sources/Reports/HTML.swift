import Foundation

/// Escaping for text placed into HTML pages this project writes.
public enum HTML {
    /// Text and attribute values: &, <, >, " and ' as entities.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// JSON to place inside a `<script>` element: `<` becomes `\u003c` (only strings can hold it, where the escape
    /// means the same), so no text can close the element.
    public static func scriptJSON(_ json: Data) -> String {
        String(decoding: json, as: UTF8.self).replacingOccurrences(of: "<", with: "\\u003c")
    }
}
