import ArgumentParser
import Defects
import Foundation
import TensorCore

/// `patchcore review DIR`: the expert's accept / reject step of DIAG for a synthetic defect folder. Records verdicts in
/// DIR/review.json (rejected samples are left out of the positive bank and not made again by a rerun of
/// `synthesize`) and writes DIR/review.html, a page that shows every sample and composes the next command.
struct Review: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accept or reject synthetic defects (review.json) and write a review page (review.html).",
        discussion: """
        Open DIR/review.html in a browser to see every image beside its mask with its prompt or method; pick a \
        verdict per sample and run the command the page shows. Ids are the file names in DIR/images without \
        extension; --accept, --reject and --clear take one id or a comma-separated list and can be repeated.
        """)

    @Argument(help: "Synthetic defect folder (images/, masks/, manifest.jsonl), e.g. the --out of synthesize.")
    var folder: String
    @Option(help: "Mark samples as accepted.") var accept: [String] = []
    @Option(help: "Mark samples as rejected (left out of the positive bank).") var reject: [String] = []
    @Option(help: "Forget the verdict on samples (unreviewed samples are used).") var clear: [String] = []
    @Option(help: "Where to write the review page (default: DIR/review.html).") var sheet: String?
    @OptionGroup(title: "Input limits") var limits: LimitOptions

    static func ids(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        let lists = [("--accept", Self.ids(accept)), ("--reject", Self.ids(reject)), ("--clear", Self.ids(clear))]
        for (i, a) in lists.enumerated() {
            for b in lists[(i + 1)...] {
                if let id = a.1.first(where: Set(b.1).contains) {
                    throw ValidationError("sample '\(id)' is given to both \(a.0) and \(b.0)")
                }
            }
        }
    }

    func run() throws {
        let dir = URL(fileURLWithPath: folder)
        try checkFolder(dir)
        if let sheet { try checkWritable(URL(fileURLWithPath: sheet)) }
        var review = try SyntheticDefectReview.load(folder: dir)
        let before = review
        try review.apply(.accepted, to: Self.ids(accept), in: dir)
        try review.apply(.rejected, to: Self.ids(reject), in: dir)
        try review.apply(.unreviewed, to: Self.ids(clear), in: dir)
        if review != before { try review.save(folder: dir) }
        let page = try writeReviewSheet(folder: dir, to: sheet.map(URL.init(fileURLWithPath:)))
        let ids = try SyntheticDefectSet.pairs(in: dir, includingRejected: true).map(\.id)
        print("\(ids.count) sample(s) in \(dir.path): \(review.summary(of: ids))" + (review != before ? " (review.json updated)" : ""))
        print("review page: \(page.path)")
    }
}

/// Writes the review page of a synthetic defect folder (atomically) and returns where it went.
@discardableResult
func writeReviewSheet(folder: URL, to file: URL? = nil) throws -> URL {
    let target = file ?? folder.appendingPathComponent(ReviewSheet.fileName)
    try AtomicFile.write(Data(try ReviewSheet.html(folder: folder).utf8), to: target)
    return target
}
