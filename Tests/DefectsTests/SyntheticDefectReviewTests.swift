import Foundation
import Testing
import ImageIO
@testable import Defects

/// The expert's accept / reject step: review.json round trip, rejected samples left out of the pairs the positive
/// bank reads (but still known to resume), unknown ids refused, and the review page's content and escaping.
@Suite struct SyntheticDefectReviewTests {
    let image = Image(width: 4, height: 3, channels: 3, pixels: [UInt8](repeating: 90, count: 36))
    let mask = Image(width: 4, height: 3, channels: 1, pixels: [0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 0, 0])

    /// A folder with samples s0..s3; s1 has a prompt with markup and quotes in it.
    func makeFolder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("review-\(UUID().uuidString)")
        let writer = try SyntheticDefectSet.Writer(folder: dir)
        for i in 0..<4 {
            let prompt = i == 1 ? "<script>alert('x')</script> & \"scratch\"" : "copper metal scratches"
            try writer.write(id: "s\(i)", image: image, mask: mask,
                             record: .init(id: "", image: "", mask: "", generator: "diffusion", seed: UInt64(10 + i),
                                           sourceImage: "good/\(i).png", prompt: prompt))
        }
        return dir
    }

    @Test func rejectedSamplesAreLeftOutButStayOnDisk() throws {
        let dir = try makeFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try SyntheticDefectReview.load(folder: dir) == SyntheticDefectReview())
        var review = SyntheticDefectReview()
        try review.apply(.rejected, to: ["s1", "s3"], in: dir)
        try review.apply(.accepted, to: ["s0", "s3"], in: dir)   // a later verdict replaces an earlier one
        try review.save(folder: dir)
        let loaded = try SyntheticDefectReview.load(folder: dir)
        #expect(loaded.rejected == ["s1"] && loaded.accepted == ["s0", "s3"])
        #expect(loaded.verdict("s2") == .unreviewed)
        #expect(try SyntheticDefectSet.pairs(in: dir).map(\.id) == ["s0", "s2", "s3"])
        #expect(try SyntheticDefectSet.pairs(in: dir, includingRejected: true).map(\.id) == ["s0", "s1", "s2", "s3"])
        // A rerun of the generator still sees the rejected sample as made, so it is not painted again.
        #expect(try SyntheticDefectSet.Writer(folder: dir).existingIDs.contains("s1"))
        var cleared = loaded
        try cleared.apply(.unreviewed, to: ["s1"], in: dir)
        #expect(cleared.rejected.isEmpty && cleared.verdict("s1") == .unreviewed)
    }

    @Test func unknownIdsBadFilesAndAllRejectedGetClearErrors() throws {
        let dir = try makeFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var review = SyntheticDefectReview()
        #expect(throws: SyntheticDefectSetError.unknownSamples(folder: dir.path, ids: ["s9"])) {
            try review.apply(.rejected, to: ["s0", "s9"], in: dir)
        }
        #expect(review.rejected.isEmpty, "nothing is applied when one id is unknown")
        try review.apply(.rejected, to: ["s0", "s1", "s2", "s3"], in: dir)
        try review.save(folder: dir)
        #expect(throws: SyntheticDefectSetError.allRejected(path: dir.path, count: 4)) { try SyntheticDefectSet.pairs(in: dir) }
        try Data("{\"rejected\": [".utf8).write(to: dir.appendingPathComponent(SyntheticDefectReview.fileName))
        do {
            _ = try SyntheticDefectSet.pairs(in: dir)
            Issue.record("a truncated review.json must be an error")
        } catch let error as SyntheticDefectSetError {
            #expect("\(error)".contains("review.json") && "\(error)".contains("not a review file"))
        }
    }

    @Test func reviewPageListsEverySampleWithEscapedFacts() throws {
        let dir = try makeFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var review = SyntheticDefectReview()
        try review.apply(.rejected, to: ["s2"], in: dir)
        try review.save(folder: dir)
        let html = try ReviewSheet.html(folder: dir)
        for i in 0..<4 {
            #expect(html.contains("src=\"images/s\(i).png\"") && html.contains("src=\"masks/s\(i).png\""))
            #expect(html.contains("data-id=\"s\(i)\""))
        }
        #expect(html.contains("4 sample(s): 0 accepted, 1 rejected, 3 unreviewed"))
        #expect(html.contains("class=\"card rejected\" data-id=\"s2\" data-recorded=\"rejected\""))
        #expect(html.contains("prompt: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;scratch&quot;"))
        #expect(!html.contains("<script>alert"))
        #expect(html.contains("seed 11") && html.contains("good image: good/1.png"))
        #expect(ReviewSheet.jsString("a</script>b") == "\"a\\u003c\\/script>b\"")
    }
}
