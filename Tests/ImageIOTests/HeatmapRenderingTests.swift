import Foundation
import Testing
import TensorCore
@testable import ImageIO

/// HeatmapScale colours, scale overlays, outlines, legend band, strips, projection and the bitmap font.
@Suite("Heatmap rendering")
struct HeatmapRenderingTests {
    let scale = HeatmapScale(low: 1, threshold: 3)

    /// Deterministic RGB test image (a smooth pattern, no pixel equals the decision red).
    static func pattern(width: Int, height: Int) -> Image {
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let o = 3 * (y * width + x)
                px[o] = UInt8((x * 7 + y * 3) % 200 + 20); px[o + 1] = UInt8((x * 5 + y * 11) % 180 + 40)
                px[o + 2] = UInt8((x * 13 + y) % 160 + 60)
            }
        }
        return Image(width: width, height: height, channels: 3, pixels: px)
    }

    static func rgb(_ image: Image, _ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
        let o = 3 * (y * image.width + x)
        return (image.pixels[o], image.pixels[o + 1], image.pixels[o + 2])
    }

    // MARK: HeatmapScale

    @Test func colourIsTransparentAtOrBelowLowAndDecisionRedAtOrAboveThreshold() throws {
        for v: Float in [-.infinity, -5, 0, 0.999, 1, .nan] {
            #expect(scale.colour(of: v).a == 0, "value \(v)")
        }
        let red = HeatmapScale.thresholdColour
        for v: Float in [3, 3.0001, 10, .infinity] {
            let c = scale.colour(of: v)
            #expect(c.r == red.r && c.g == red.g && c.b == red.b && c.a == 1, "value \(v)")
        }
        // Between: visible, opacity rising, never the decision colour.
        var lastAlpha: Float = 0
        for k in 1..<200 {
            let c = scale.colour(of: 1 + 2 * Float(k) / 200)
            #expect(c.a > lastAlpha && c.a < 1)
            #expect(!(c.r == red.r && c.g == red.g && c.b == red.b))
            lastAlpha = c.a
        }
        // The ramp runs from blue to orange.
        let start = HeatmapScale.ramp(0), end = HeatmapScale.ramp(1)
        #expect(start.b == 255 && start.r == 0 && end.r == 255 && end.b == 0)
        // threshold <= low: no ramp, red from the threshold.
        let flat = HeatmapScale(low: 2, threshold: 2)
        #expect(flat.colour(of: 1.99).a == 0 && flat.colour(of: 2).a == 1)
        // Codable with the field names as keys.
        let json = try JSONEncoder().encode(scale)
        #expect(try JSONDecoder().decode(HeatmapScale.self, from: json) == scale)
        #expect(String(decoding: json, as: UTF8.self).contains("\"threshold\""))
    }

    // MARK: overlay

    @Test func overlayOfAllLowMapLeavesImageUnchanged() throws {
        let img = Self.pattern(width: 9, height: 7)
        var values = [Float](repeating: 0.5, count: 63)
        values[10] = 1; values[20] = .nan; values[30] = -3
        #expect(try Heatmap.overlay(Tensor(shape: [7, 9], scalars: values), on: img, scale: scale) == img)
        #expect(try Heatmap.overlay(Tensor(shape: [1, 7, 9], scalars: values), on: img, scale: scale) == img)
        let gray = img.toGray()
        #expect(try Heatmap.overlay(Tensor(zeros: [7, 9]), on: gray, scale: scale) == gray.toRGB())
        #expect(throws: ImageError.self) { try Heatmap.overlay(Tensor(zeros: [9, 7]), on: img, scale: scale) }
        #expect(throws: ImageError.self) { try Heatmap.overlay(Tensor(zeros: [2, 7, 9]), on: img, scale: scale) }
    }

    @Test func hotSquareIsRedExactlyThere() throws {
        let w = 20, h = 16
        let img = Self.pattern(width: w, height: h)
        var map = Tensor(zeros: [h, w])
        let square = (xs: 5..<9, ys: 4..<8)
        for y in square.ys { for x in square.xs { map.scalars[y * w + x] = 7 } }
        let red = HeatmapScale.thresholdColour
        // Fully opaque: the decision colour exactly on the square, the image elsewhere.
        let opaque = try Heatmap.overlay(map, on: img, scale: scale, maxAlpha: 1)
        for y in 0..<h {
            for x in 0..<w {
                let inside = square.xs.contains(x) && square.ys.contains(y)
                let p = Self.rgb(opaque, x, y)
                #expect((p == (red.r, red.g, red.b)) == inside, "(\(x),\(y))")
                if !inside { #expect(p == Self.rgb(img, x, y)) }
            }
        }
        // Default 0.6: the blend of image and red on the square.
        let blended = try Heatmap.overlay(map, on: img, scale: scale)
        func mix(_ base: UInt8, _ top: UInt8) -> UInt8 { UInt8((0.4 * Float(base) + 0.6 * Float(top)).rounded()) }
        let o = Self.rgb(img, 6, 5)
        #expect(Self.rgb(blended, 6, 5) == (mix(o.0, red.r), mix(o.1, red.g), mix(o.2, red.b)))
        #expect(Self.rgb(blended, 0, 0) == Self.rgb(img, 0, 0))
    }

    @Test func layerIsTransparentWhereLowAndOpaqueRedExactlyOnTheRegion() throws {
        let w = 12, h = 10
        var values = [Float](repeating: 0, count: w * h)
        for i in 0..<(w * h) { values[i] = Float(i % 7) * 0.6 }   // below low, ramp and above threshold
        values[5] = .nan
        let map = Tensor(shape: [h, w], scalars: values)
        let layer = try Heatmap.layer(map, scale: scale)
        #expect(layer.channels == 4 && layer.width == w && layer.height == h)
        let red = HeatmapScale.thresholdColour
        for i in 0..<(w * h) {
            let v = values[i]
            let p = Array(layer.pixels[(4 * i)..<(4 * i + 4)])
            let isRegion = p == [red.r, red.g, red.b, 255]
            #expect(isRegion == (v >= scale.threshold), "value \(v): \(p)")
            if v.isNaN || v <= scale.low { #expect(p[3] == 0, "value \(v) is transparent") }
            if v > scale.low && v < scale.threshold { #expect(p[3] > 0 && p[3] < 255, "value \(v) is translucent") }
        }
        #expect(throws: ImageError.self) { try Heatmap.layer(Tensor(zeros: [2, 3, 4]), scale: scale) }
    }

    // MARK: outline

    /// Inside pixels with an outside (or off-image) 4-neighbour, computed independently of `Heatmap.contour`.
    static func border(_ inside: (Int, Int) -> Bool, width w: Int, height h: Int) -> Set<[Int]> {
        func at(_ x: Int, _ y: Int) -> Bool { x >= 0 && x < w && y >= 0 && y < h && inside(x, y) }
        var out = Set<[Int]>()
        for y in 0..<h {
            for x in 0..<w where at(x, y) && !(at(x - 1, y) && at(x + 1, y) && at(x, y - 1) && at(x, y + 1)) {
                out.insert([x, y])
            }
        }
        return out
    }

    @Test func outlinePixelsLieOnTheRegionBorderOnly() throws {
        let w = 24, h = 18
        let img = Image(width: w, height: h, channels: 3, pixels: [UInt8](repeating: 40, count: w * h * 3))
        // A rectangle, a lone pixel and a blob touching the right edge; one NaN inside the rectangle.
        func inRegion(_ x: Int, _ y: Int) -> Bool {
            ((3..<10).contains(x) && (2..<9).contains(y) && !(x == 6 && y == 5))
                || (x == 15 && y == 12) || (x >= 20 && (10..<14).contains(y))
        }
        var map = Tensor(repeating: 0.2, shape: [h, w])
        for y in 0..<h { for x in 0..<w where inRegion(x, y) { map.scalars[y * w + x] = 0.9 } }
        map.scalars[5 * w + 6] = .nan
        let green: (r: UInt8, g: UInt8, b: UInt8) = (0, 255, 0)
        let out = try Heatmap.outline(map, on: img, level: 0.5, colour: green)
        var drawn = Set<[Int]>()
        for y in 0..<h { for x in 0..<w where Self.rgb(out, x, y) == (0, 255, 0) { drawn.insert([x, y]) } }
        let expected = Self.border(inRegion, width: w, height: h)
        #expect(drawn == expected)
        #expect(drawn.contains([23, 11]) && drawn.contains([15, 12]) && !drawn.contains([4, 3]) && !drawn.contains([6, 5]))
        // Everything else is the image.
        for y in 0..<h { for x in 0..<w where !drawn.contains([x, y]) { #expect(Self.rgb(out, x, y) == (40, 40, 40)) } }
        // Level is inclusive (>=).
        #expect(try Heatmap.outline(map, on: img, level: 0.9, colour: green) == out)
        // Thickness 2 adds the outer ring: outside pixels with an inside 4-neighbour.
        let thick = try Heatmap.outline(map, on: img, level: 0.5, colour: green, thickness: 2)
        let outer = Self.border({ x, y in !inRegion(x, y) }, width: w, height: h)
            .filter { p in [[-1, 0], [1, 0], [0, -1], [0, 1]].contains { d in
                let x = p[0] + d[0], y = p[1] + d[1]
                return x >= 0 && x < w && y >= 0 && y < h && inRegion(x, y) } }
        var drawnThick = Set<[Int]>()
        for y in 0..<h { for x in 0..<w where Self.rgb(thick, x, y) == (0, 255, 0) { drawnThick.insert([x, y]) } }
        #expect(drawnThick == expected.union(outer))
        // Ground-truth masks: > 127 is defect.
        var maskPixels = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w where inRegion(x, y) { maskPixels[y * w + x] = 128 } }
        maskPixels[0] = 127
        let mask = Image(width: w, height: h, channels: 1, pixels: maskPixels)
        #expect(try Heatmap.maskOutline(mask: mask, on: img, colour: green) == out)
        #expect(throws: ImageError.self) { try Heatmap.maskOutline(mask: mask.resizedNearest(width: 5, height: 5), on: img) }
        #expect(throws: ImageError.self) { try Heatmap.outline(Tensor(zeros: [3, 3]), on: img, level: 0) }
    }

    // MARK: legend

    @Test func annotateAddsABandWithTheRampAndText() throws {
        let img = Self.pattern(width: 224, height: 224)
        let s = HeatmapScale(low: 1.23, threshold: 2.9)
        let plain = Heatmap.annotate(img, scale: s, lines: [""])
        let text = Heatmap.annotate(img, scale: s, lines: ["ANOMALOUS"])
        #expect(text.width == 224 && text.height > 224 && text.height == plain.height)
        #expect(Array(text.pixels.prefix(img.pixels.count)) == img.pixels)
        let band = Array(text.pixels.dropFirst(img.pixels.count))
        let colours = Set(stride(from: 0, to: band.count, by: 3).map { [band[$0], band[$0 + 1], band[$0 + 2]] })
        // The bar: the decision red, the ramp's blue end and its yellow middle.
        let red = HeatmapScale.thresholdColour
        #expect(colours.contains([red.r, red.g, red.b]))
        #expect(colours.contains { $0[0] == 0 && $0[2] == 255 && $0[1] < 100 })            // blue
        #expect(colours.contains { $0[0] == 255 && $0[1] > 200 && $0[2] < 40 })             // yellow
        // Text pixels: exactly where the two renderings differ, in the ink colour.
        let ink = Heatmap.bandInk
        var differing = 0
        for i in stride(from: 0, to: text.pixels.count, by: 3) where text.pixels[i..<(i + 3)] != plain.pixels[i..<(i + 3)] {
            #expect(Array(text.pixels[i..<(i + 3)]) == [ink.r, ink.g, ink.b])
            differing += 1
        }
        // "ANOMALOUS" at scale 2: each font dot is 4 pixels.
        let dots = "ANOMALOUS".reduce(0) { n, c in n + BitmapFont.glyph(c)!.reduce(0) { $0 + $1.nonzeroBitCount } }
        #expect(differing == 4 * dots)
        // Tick labels are text too: the plain band holds ink.
        #expect(colours.contains([ink.r, ink.g, ink.b]))
        // A line too long for 224 px wraps onto more lines (a taller band); above puts the band first.
        let long = Heatmap.annotate(img, scale: s, lines: ["score 3.21 >= 2.90 ANOMALOUS", "model abc123 v2"])
        #expect(long.height == plain.height + 2 * BitmapFont.lineHeight * 2)
        let above = Heatmap.annotate(img, scale: s, lines: ["ANOMALOUS"], position: .above)
        #expect(Array(above.pixels.suffix(img.pixels.count)) == img.pixels)
        #expect(Array(above.pixels.prefix(band.count)) == band)
        // Degenerate widths do not crash.
        _ = Heatmap.annotate(Image(width: 3, height: 2, channels: 1, pixels: [UInt8](repeating: 9, count: 6)), scale: s, lines: ["X Y"])
        _ = Heatmap.annotate(Image(width: 0, height: 0, channels: 3, pixels: []), scale: s, lines: ["X"])
    }

    // MARK: strip

    @Test func stripWidthIsPanelsPlusGaps() throws {
        let a = Self.pattern(width: 10, height: 8), b = Self.pattern(width: 6, height: 8).toGray()
        let c = Self.pattern(width: 10, height: 16)   // resized to 5x8
        let s = Heatmap.strip([a, b, c], gap: 3, background: (1, 2, 3))
        #expect(s.width == 10 + 6 + 5 + 2 * 3 && s.height == 8 && s.channels == 3)
        #expect(s.cropped(x: 0, y: 0, width: 10, height: 8) == a)
        #expect(s.cropped(x: 13, y: 0, width: 6, height: 8) == b.toRGB())
        #expect(s.cropped(x: 22, y: 0, width: 5, height: 8) == c.resized(width: 5, height: 8))
        #expect(Self.rgb(s, 10, 4) == (1, 2, 3) && Self.rgb(s, 21, 7) == (1, 2, 3))
        #expect(Heatmap.strip([a, a], gap: 0).width == 20)
        #expect(Heatmap.strip([]).width == 0)
    }

    // MARK: projection

    /// align_corners=False bilinear sample of map (h,w) at map coordinates (u, v), clamped.
    static func sample(_ m: [Float], _ h: Int, _ w: Int, _ u: Double, _ v: Double) -> Float {
        let u = min(max(u, 0), Double(w - 1)), v = min(max(v, 0), Double(h - 1))
        let x0 = Int(u), y0 = Int(v), x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
        let fx = u - Double(x0), fy = v - Double(y0)
        let a = Double(m[y0 * w + x0]) * (1 - fx) + Double(m[y0 * w + x1]) * fx
        let b = Double(m[y1 * w + x0]) * (1 - fx) + Double(m[y1 * w + x1]) * fx
        return Float(a * (1 - fy) + b * fy)
    }

    @Test func projectIdentityCentreHalfAndConstant() throws {
        let mh = 6, mw = 8
        let values = (0..<(mh * mw)).map { Float(($0 * 37) % 23) / 7 }
        let map = Tensor(shape: [1, mh, mw], scalars: values)
        let same = Heatmap.project(map, covering: (0, 0, Double(mw), Double(mh)), ontoWidth: mw, height: mh)
        #expect(same.shape == [mh, mw])
        #expect(zip(same.scalars, values).allSatisfy { abs($0 - $1) <= 1e-5 })

        // The map covers the centre half of a 16x12 image: NaN outside, map values inside (scale 1).
        let half = Heatmap.project(map, covering: (4, 3, 8, 6), ontoWidth: 16, height: 12)
        #expect(half.shape == [12, 16])
        for y in 0..<12 {
            for x in 0..<16 {
                let v = half.scalars[y * 16 + x]
                if (4..<12).contains(x) && (3..<9).contains(y) {
                    #expect(abs(v - values[(y - 3) * mw + (x - 4)]) <= 1e-5, "(\(x),\(y))")
                } else {
                    #expect(v.isNaN, "(\(x),\(y))")
                }
            }
        }

        // Upsampled 3x into the centre of a larger image at a fractional offset: matches the reference.
        let region = (x: 10.5, y: 7.25, width: 24.0, height: 18.0)
        let up = Heatmap.project(map, covering: region, ontoWidth: 45, height: 33)
        var maxDiff: Float = 0
        for y in 0..<33 {
            for x in 0..<45 {
                let cx = Double(x) + 0.5, cy = Double(y) + 0.5
                let v = up.scalars[y * 45 + x]
                let inside = cx >= region.x && cx < region.x + region.width && cy >= region.y && cy < region.y + region.height
                if !inside { #expect(v.isNaN); continue }
                let u = (cx - region.x) * Double(mw) / region.width - 0.5
                let w = (cy - region.y) * Double(mh) / region.height - 0.5
                maxDiff = max(maxDiff, abs(v - Self.sample(values, mh, mw, u, w)))
            }
        }
        print("project 8x6 -> region \(region) of 45x33: max |diff| vs reference \(maxDiff)")
        #expect(maxDiff <= 1e-5)

        // A 1x1 map is a constant over its region.
        let one = Heatmap.project(Tensor(shape: [1, 1], scalars: [2.5]), covering: (0, 0, 5, 4), ontoWidth: 5, height: 4)
        #expect(one.scalars.allSatisfy { $0 == 2.5 })
        // Unreadable input: all NaN.
        #expect(Heatmap.project(Tensor(zeros: [2, 2, 2]), covering: (0, 0, 2, 2), ontoWidth: 2, height: 2).scalars.allSatisfy { $0.isNaN })
        #expect(Heatmap.project(map, covering: (0, 0, 0, 6), ontoWidth: 3, height: 3).scalars.allSatisfy { $0.isNaN })
    }

    @Test func inputRegionOfResizeAndCentreCrop() {
        // 800x600 -> Resize(256) 341x256 -> CenterCrop(224) at (58, 16).
        let r = Heatmap.inputRegion(width: 800, height: 600, shorterSide: 256, cropWidth: 224, cropHeight: 224)
        #expect(abs(r.x - 58 * 800 / 341.0) < 1e-9 && abs(r.width - 224 * 800 / 341.0) < 1e-9)
        #expect(r.y == 37.5 && r.height == 525)
        // Square MVTec-like image: resize then crop the middle.
        let s = Heatmap.inputRegion(width: 900, height: 900, shorterSide: 256, cropWidth: 224, cropHeight: 224)
        #expect(abs(s.x - 16 * 900 / 256.0) < 1e-9 && abs(s.width - 787.5) < 1e-9)
    }

    // MARK: font

    @Test func bitmapFontDrawsEveryCharacterAndClips() {
        let blank = Image(width: 40, height: 20, channels: 3, pixels: [UInt8](repeating: 0, count: 40 * 20 * 3))
        func inked(_ text: String, x: Int = 2, y: Int = 2, scale: Int = 2, on base: Image = blank) -> Int {
            var img = base
            BitmapFont.draw(text, on: &img, x: x, y: y, scale: scale, colour: (255, 255, 255))
            return stride(from: 0, to: img.pixels.count, by: img.channels).filter { img.pixels[$0] == 255 }.count
        }
        let required = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;-+=<>/()%_# "
        for c in required { #expect(BitmapFont.supports(c), "\(c)") }
        for c in BitmapFont.supportedCharacters where c != " " {
            #expect(inked(String(c)) > 0, "\(c)")
        }
        #expect(inked(" ") == 0)
        // Distinct glyphs for all the supported characters.
        let shapes = BitmapFont.supportedCharacters.map { BitmapFont.glyph($0)! }
        #expect(Set(shapes.map { $0.map(String.init).joined(separator: ",") }).count == shapes.count)
        // Lower case prints as upper case; unknown characters as '?'.
        #expect(BitmapFont.glyph("a") == BitmapFont.glyph("A") && BitmapFont.supports("z"))
        #expect(inked("~") == inked("?") && !BitmapFont.supports("~"))
        // One dot is scale x scale pixels.
        let dots = BitmapFont.glyph("8")!.reduce(0) { $0 + $1.nonzeroBitCount }
        #expect(inked("8", scale: 1) == dots && inked("8", scale: 2) == 4 * dots)
        // Clipping: partly and wholly outside, extreme coordinates and scales, every channel count.
        #expect(inked("8", x: -4, scale: 2) < 4 * dots && inked("8", x: -4, scale: 2) > 0)
        #expect(inked("8", x: 36, y: 15, scale: 2) < 4 * dots)
        for (x, y) in [(-1000, 0), (0, -1000), (1000, 0), (0, 1000), (Int.min, Int.min), (Int.max, Int.max),
                       (Int.min, 0), (0, Int.max), (Int.max, -5), (-5, Int.min)] {
            #expect(inked("HELLO", x: x, y: y) == 0, "(\(x),\(y))")
        }
        _ = inked("WIDE", x: -3, y: -3, scale: Int.max)
        _ = inked("NEG", scale: -4)
        let gray = Image(width: 12, height: 9, channels: 1, pixels: [UInt8](repeating: 0, count: 108))
        let rgba = Image(width: 12, height: 9, channels: 4, pixels: [UInt8](repeating: 0, count: 432))
        #expect(inked("8", x: 0, y: 0, scale: 1, on: gray) == dots && inked("8", x: 0, y: 0, scale: 1, on: rgba) == dots)
        #expect(inked("", x: 0, y: 0) == 0 && BitmapFont.width(of: "2.90", scale: 2) == 46)
    }

    @Test func bitmapFontWrapsToTheWidth() {
        // 224-px image, 4-px margins: 18 characters per line at scale 2.
        #expect(BitmapFont.wrap("score 3.21 >= 2.90 ANOMALOUS", width: 216, scale: 2) == ["score 3.21 >= 2.90", "ANOMALOUS"])
        #expect(BitmapFont.wrap("ABCDEFGHIJ", width: 4 * 6 - 1, scale: 1) == ["ABCD", "EFGH", "IJ"])
        #expect(BitmapFont.wrap("", width: 100) == [""])
        #expect(BitmapFont.wrap("X", width: 2, scale: 2) == ["X"])
        for line in BitmapFont.wrap("model abc123 v2 trained on bottle with coreset 10%", width: 100, scale: 2) {
            #expect(BitmapFont.width(of: line, scale: 2) <= 100)
        }
    }

    // MARK: demo (not part of the normal run)

    /// `HEATMAP_DEMO=/tmp/heatmap-demo.png swift test --filter HeatmapRenderingTests/demo` renders an
    /// anomalib-style figure of an MVTec bottle with a synthetic map (from its mask) to look at.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["HEATMAP_DEMO"] != nil))
    func demo() throws {
        let out = URL(fileURLWithPath: ProcessInfo.processInfo.environment["HEATMAP_DEMO"]!)
        let root = URL(fileURLWithPath: ProcessInfo.processInfo.environment["MVTEC_ROOT"] ?? "/work/shared/datasets/mvtec_ad")
        let photo = try ImageFile.read(root.appendingPathComponent("bottle/test/broken_large/000.png")).toRGB()
        let gtFull = try ImageFile.read(root.appendingPathComponent("bottle/ground_truth/broken_large/000_mask.png"))
        let crop = photo.resized(shorterSide: 256).centerCropped(width: 224, height: 224)
        let gt = gtFull.resized(shorterSide: 256, nearest: true).centerCropped(width: 224, height: 224)
        // Synthetic map: distance-weighted mask plus a gentle gradient, so every colour appears.
        let mask = gt.maskTensor()
        var map = Tensor(zeros: [224, 224])
        for y in 0..<224 {
            for x in 0..<224 {
                var near: Float = 0
                for dy in stride(from: -12, through: 12, by: 4) {
                    for dx in stride(from: -12, through: 12, by: 4) {
                        let yy = min(max(y + dy, 0), 223), xx = min(max(x + dx, 0), 223)
                        near += mask.scalars[yy * 224 + xx]
                    }
                }
                map.scalars[y * 224 + x] = 0.8 + 3 * near / 49 + Float(x) / 224
            }
        }
        let scale = HeatmapScale(low: 1.1, threshold: 2.9)
        let overlay = try Heatmap.overlay(map, on: crop, scale: scale)
        let predicted = try Heatmap.outline(map, on: crop, level: scale.threshold, thickness: 2)
        let truth = try Heatmap.maskOutline(mask: gt, on: crop, thickness: 2)
        let figure = Heatmap.strip([crop, overlay, predicted, truth])
        let lines = ["score 3.21 >= 2.90 ANOMALOUS", "model abc123 v2 (bottle)"]
        try ImageFile.writePNG(Heatmap.annotate(figure, scale: scale, lines: lines), to: out)
        let single = out.deletingPathExtension().appendingPathExtension("single.png")
        try ImageFile.writePNG(Heatmap.annotate(overlay, scale: scale, lines: lines), to: single)
        // On the original 900x900 photo through the projection.
        let region = Heatmap.inputRegion(width: photo.width, height: photo.height, shorterSide: 256, cropWidth: 224, cropHeight: 224)
        let full = Heatmap.project(map, covering: region, ontoWidth: photo.width, height: photo.height)
        let projected = out.deletingPathExtension().appendingPathExtension("projected.png")
        try ImageFile.writePNG(Heatmap.annotate(try Heatmap.overlay(full, on: photo, scale: scale), scale: scale,
                                                lines: lines, textScale: 3), to: projected)
    }
}
