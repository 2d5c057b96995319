/// A small built-in 5x7 bitmap font for legends and labels on heatmap panels.
///
/// Why our own: no font library is among the allowed dependencies (the package links only libpng,
/// libjpeg-turbo and OpenBLAS from Debian, plus a few pure-Swift packages), and FreeType or
/// CoreText would add a system dependency just to print a score. The glyphs were drawn for this file
/// in the classic 5x7 dot-matrix style; lower case prints as upper case, anything else unknown as `?`.
///
/// ```swift
/// var panel = overlay
/// BitmapFont.draw("SCORE 3.21", on: &panel, x: 4, y: 4, scale: 2, colour: (255, 255, 255))
/// ```
public enum BitmapFont {
    /// Glyph cell at scale 1, in pixels.
    public static let glyphWidth = 5
    public static let glyphHeight = 7
    /// Horizontal distance between successive characters at scale 1 (glyph + 1 px of space).
    public static let advance = 6
    /// Vertical distance between successive lines at scale 1 (glyph + 2 px of space).
    public static let lineHeight = 9

    /// Every character with a glyph (lower-case letters print as their upper case).
    public static let supportedCharacters: String = String(glyphArt.map(\.0))

    /// True when `c` (or its upper case) has a glyph.
    public static func supports(_ c: Character) -> Bool { glyph(c) != nil }

    /// Width in pixels of `text` drawn on one line at `scale` (no trailing space); 0 for "".
    ///
    /// ```swift
    /// let w = BitmapFont.width(of: "2.90", scale: 2)   // 46
    /// ```
    public static func width(of text: String, scale: Int = 1) -> Int {
        let s = clampedScale(scale)
        return text.isEmpty ? 0 : text.count * advance * s - s
    }

    /// Draws one line of `text` with its top-left corner at (`x`, `y`), each font pixel a `scale` x `scale`
    /// square. Everything outside the image is clipped (any coordinates, negative or huge, are safe);
    /// `scale` is clamped to 1...256. Gray images get the colour's luma, RGBA images opaque pixels.
    ///
    /// ```swift
    /// BitmapFont.draw("MODEL ABC123 V2", on: &band, x: 6, y: 30, scale: 2, colour: (240, 240, 240))
    /// ```
    public static func draw(_ text: String, on image: inout Image, x: Int, y: Int, scale: Int = 1,
                            colour: (r: UInt8, g: UInt8, b: UInt8)) {
        let s = clampedScale(scale)
        let w = image.width, h = image.height, c = image.channels
        // Only additions of small positive amounts to x and y happen below, after these checks,
        // so no coordinate can overflow.
        guard y < h, y > -glyphHeight * s, x < w else { return }
        let ink: [UInt8] = c == 1 ? [Image.luma(colour.r, colour.g, colour.b)]
            : c == 3 ? [colour.r, colour.g, colour.b] : [colour.r, colour.g, colour.b, 255]
        var cursor = x
        for ch in text {
            if cursor >= w { break }
            defer { cursor += advance * s }
            guard cursor + glyphWidth * s > 0 else { continue }
            let rows = glyph(ch) ?? glyph("?")!
            for (row, bits) in rows.enumerated() {
                let y0 = y + row * s
                let yLo = max(y0, 0), yHi = min(y0 + s, h)
                if yLo >= yHi { continue }
                for col in 0..<glyphWidth where bits & (1 << (glyphWidth - 1 - col)) != 0 {
                    let x0 = cursor + col * s
                    let xLo = max(x0, 0), xHi = min(x0 + s, w)
                    if xLo >= xHi { continue }
                    for py in yLo..<yHi {
                        for px in xLo..<xHi {
                            let o = (py * w + px) * c
                            for k in 0..<c { image.pixels[o + k] = ink[k] }
                        }
                    }
                }
            }
        }
    }

    /// `text` broken into lines of at most `width` pixels at `scale`: at spaces where possible, inside
    /// words longer than a line otherwise. When not even one character fits, the text comes back whole
    /// (to be clipped).
    ///
    /// ```swift
    /// BitmapFont.wrap("score 3.21 >= 2.90 ANOMALOUS", width: 216, scale: 2)   // ["score 3.21 >= 2.90", "ANOMALOUS"]
    /// ```
    public static func wrap(_ text: String, width: Int, scale: Int = 1) -> [String] {
        let s = clampedScale(scale)
        let perLine = (width + s) / (advance * s)
        guard perLine >= 1 else { return [text] }
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            var word = Substring(word)
            if !current.isEmpty && current.count + 1 + word.count <= perLine {
                current += " " + word
                continue
            }
            if !current.isEmpty { lines.append(current); current = "" }
            while word.count > perLine {
                lines.append(String(word.prefix(perLine)))
                word = word.dropFirst(perLine)
            }
            current = String(word)
        }
        if !current.isEmpty || lines.isEmpty { lines.append(current) }
        return lines
    }

    static func clampedScale(_ scale: Int) -> Int { min(max(scale, 1), 256) }

    /// Rows of the glyph for `c` (5 bits each, leftmost pixel in bit 4), or nil.
    static func glyph(_ c: Character) -> [UInt8]? {
        if let g = glyphs[c] { return g }
        let upper = c.uppercased()
        if upper.count == 1, let g = glyphs[Character(upper)] { return g }
        return nil
    }

    static let glyphs: [Character: [UInt8]] = Dictionary(uniqueKeysWithValues: glyphArt.map { ch, art in
        (ch, art.split(separator: " ").map { row in
            row.reduce(UInt8(0)) { bits, dot in (bits << 1) | (dot == "#" ? 1 : 0) }
        })
    })

    /// The glyphs, seven rows of five dots each, top row first ('#' = ink).
    static let glyphArt: [(Character, String)] = [
        (" ", "..... ..... ..... ..... ..... ..... ....."),
        ("A", ".###. #...# #...# ##### #...# #...# #...#"),
        ("B", "####. #...# #...# ####. #...# #...# ####."),
        ("C", ".###. #...# #.... #.... #.... #...# .###."),
        ("D", "####. #...# #...# #...# #...# #...# ####."),
        ("E", "##### #.... #.... ####. #.... #.... #####"),
        ("F", "##### #.... #.... ####. #.... #.... #...."),
        ("G", ".###. #...# #.... #.### #...# #...# .####"),
        ("H", "#...# #...# #...# ##### #...# #...# #...#"),
        ("I", ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###."),
        ("J", "..### ...#. ...#. ...#. ...#. #..#. .##.."),
        ("K", "#...# #..#. #.#.. ##... #.#.. #..#. #...#"),
        ("L", "#.... #.... #.... #.... #.... #.... #####"),
        ("M", "#...# ##.## #.#.# #.#.# #...# #...# #...#"),
        ("N", "#...# #...# ##..# #.#.# #..## #...# #...#"),
        ("O", ".###. #...# #...# #...# #...# #...# .###."),
        ("P", "####. #...# #...# ####. #.... #.... #...."),
        ("Q", ".###. #...# #...# #...# #.#.# #..#. .##.#"),
        ("R", "####. #...# #...# ####. #.#.. #..#. #...#"),
        ("S", ".#### #.... #.... .###. ....# ....# ####."),
        ("T", "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."),
        ("U", "#...# #...# #...# #...# #...# #...# .###."),
        ("V", "#...# #...# #...# #...# #...# .#.#. ..#.."),
        ("W", "#...# #...# #...# #.#.# #.#.# #.#.# .#.#."),
        ("X", "#...# #...# .#.#. ..#.. .#.#. #...# #...#"),
        ("Y", "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#.."),
        ("Z", "##### ....# ...#. ..#.. .#... #.... #####"),
        ("0", ".###. #...# #..## #.#.# ##..# #...# .###."),
        ("1", "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###."),
        ("2", ".###. #...# ....# ...#. ..#.. .#... #####"),
        ("3", "##### ...#. ..#.. ...#. ....# #...# .###."),
        ("4", "...#. ..##. .#.#. #..#. ##### ...#. ...#."),
        ("5", "##### #.... ####. ....# ....# #...# .###."),
        ("6", "..##. .#... #.... ####. #...# #...# .###."),
        ("7", "##### ....# ...#. ..#.. .#... .#... .#..."),
        ("8", ".###. #...# #...# .###. #...# #...# .###."),
        ("9", ".###. #...# #...# .#### ....# ...#. .##.."),
        (".", "..... ..... ..... ..... ..... .##.. .##.."),
        (",", "..... ..... ..... ..... .##.. ..#.. .#..."),
        (":", "..... .##.. .##.. ..... .##.. .##.. ....."),
        (";", "..... .##.. .##.. ..... .##.. ..#.. .#..."),
        ("-", "..... ..... ..... ##### ..... ..... ....."),
        ("+", "..... ..#.. ..#.. ##### ..#.. ..#.. ....."),
        ("=", "..... ..... ##### ..... ##### ..... ....."),
        ("<", "...#. ..#.. .#... #.... .#... ..#.. ...#."),
        (">", ".#... ..#.. ...#. ....# ...#. ..#.. .#..."),
        ("/", "..... ....# ...#. ..#.. .#... #.... ....."),
        ("(", "...#. ..#.. .#... .#... .#... ..#.. ...#."),
        (")", ".#... ..#.. ...#. ...#. ...#. ..#.. .#..."),
        ("%", "##... ##..# ...#. ..#.. .#... #..## ...##"),
        ("_", "..... ..... ..... ..... ..... ..... #####"),
        ("#", ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#."),
        ("!", "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#.."),
        ("?", ".###. #...# ....# ...#. ..#.. ..... ..#.."),
        ("'", "..#.. ..#.. .#... ..... ..... ..... ....."),
        ("*", "..... ..#.. #.#.# .###. #.#.# ..#.. ....."),
        ("[", ".###. .#... .#... .#... .#... .#... .###."),
        ("]", ".###. ...#. ...#. ...#. ...#. ...#. .###."),
    ]
}
