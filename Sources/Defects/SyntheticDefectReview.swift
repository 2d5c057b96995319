import Datasets
import Foundation
import TensorCore

/// A domain expert's verdicts on the samples of a synthetic defect folder (DIAG's accept / reject step), kept beside
/// them in `DIR/review.json`:
///
/// ```json
/// {"accepted": ["diffusion_p0_000001"], "rejected": ["diffusion_p0_000000"]}
/// ```
/// Rejected samples stay on disk, so a rerun of `patchcore synthesize` does not make them again, but the positive
/// bank never reads them (`SyntheticDefectSet.pairs(in:)`); unreviewed samples count as accepted.
///
/// ```swift
/// var review = try SyntheticDefectReview.load(folder: dir)
/// try review.apply(.rejected, to: ["diffusion_p0_000003"], in: dir)
/// try review.save(folder: dir)
/// ```
public struct SyntheticDefectReview: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, CaseIterable { case accepted, rejected, unreviewed }

    public var accepted: Set<String> = []
    public var rejected: Set<String> = []

    public static let fileName = "review.json"

    public init(accepted: Set<String> = [], rejected: Set<String> = []) {
        self.accepted = accepted
        self.rejected = rejected
    }

    /// The folder's verdicts; none when it has no review.json yet.
    public static func load(folder: URL) throws -> SyntheticDefectReview {
        let file = folder.appendingPathComponent(fileName)
        guard FileListing.exists(file) else { return SyntheticDefectReview() }
        let data: Data
        do { data = try InputFile.read(file) } catch let error as InputFileError {
            throw SyntheticDefectSetError.badReview(file: file.path, reason: error.description)
        }
        do {
            return try JSONDecoder().decode(SyntheticDefectReview.self, from: data)
        } catch {
            throw SyntheticDefectSetError.badReview(file: file.path, reason: SyntheticDefectSet.describe(error)
                .replacingOccurrences(of: "a non-negative integer", with: "a number"))
        }
    }

    /// Writes review.json atomically (sorted ids, so the file diffs well).
    public func save(folder: URL) throws {
        let file = folder.appendingPathComponent(Self.fileName)
        let body = "{\n  \"accepted\": \(Self.jsonList(accepted)),\n  \"rejected\": \(Self.jsonList(rejected))\n}\n"
        do { try AtomicFile.write(Data(body.utf8), to: file) } catch let error as AtomicFileError {
            throw DatasetError.io(path: file.path, reason: error.description)
        }
    }

    public func verdict(_ id: String) -> Verdict {
        rejected.contains(id) ? .rejected : accepted.contains(id) ? .accepted : .unreviewed
    }

    /// Sets `ids` to `verdict` (`.unreviewed` clears them). Every id must name a sample of `folder`: a typo would
    /// otherwise silently keep a bad sample in the bank.
    public mutating func apply(_ verdict: Verdict, to ids: [String], in folder: URL) throws {
        if ids.isEmpty { return }
        let known = Set(try SyntheticDefectSet.pairs(in: folder, includingRejected: true).map(\.id))
        let unknown = ids.filter { !known.contains($0) }
        if !unknown.isEmpty { throw SyntheticDefectSetError.unknownSamples(folder: folder.path, ids: unknown) }
        for id in ids {
            accepted.remove(id)
            rejected.remove(id)
            switch verdict {
            case .accepted: accepted.insert(id)
            case .rejected: rejected.insert(id)
            case .unreviewed: break
            }
        }
    }

    /// "2 accepted, 1 rejected, 0 unreviewed" for the samples `ids` (the review page and `patchcore review`).
    public func summary(of ids: [String]) -> String {
        let counts = Dictionary(grouping: ids, by: verdict).mapValues(\.count)
        return Verdict.allCases.map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
    }

    private static func jsonList(_ ids: Set<String>) -> String {
        let items = ids.sorted().map { id -> String in
            let data = (try? JSONEncoder().encode(id)) ?? Data("\"\"".utf8)
            return String(decoding: data, as: UTF8.self)
        }
        return "[" + items.joined(separator: ", ") + "]"
    }
}

extension DefectPair {
    /// The sample id: the image's file name without extension (`images/<id>.png`).
    public var id: String { image.deletingPathExtension().lastPathComponent }
}
