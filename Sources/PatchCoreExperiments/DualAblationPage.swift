import Foundation
import Reports

extension DualAblationReport {
    /// ablation.html: the tables of ablation.md, with the metrics and the per-type image AUROC as bar charts.
    public func htmlPage() -> ReportPage {
        func pct(_ x: Double?) -> String { x.map { String(format: "%.1f", $0 * 100) } ?? "-" }
        func num(_ x: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", x) }
        func name(_ r: DualAblationRow) -> String {
            ([r.method + (r.isDefault ? " *" : ""), r.positives] + [r.rule, r.isolation].compactMap { $0 }).joined(separator: ", ")
        }
        var page = ReportPage(title: "Ablation: PatchCore vs PatchCoreDual on \(dataset)")
        page.paragraph("Backbone \(backbone) (taps \(taps.joined(separator: ", "))), \(transform); \(trainImages) good training images, "
            + "\(realDefectImages) real training defects, \(testImages) test images. Negative coreset \(negativeCoresetRatio), "
            + "positive coreset \(positiveCoresetRatio), defect padding \(defectPadding), b = \(numNeighbours), eps = \(epsilon), seed \(seed)."
            + (syntheticSource.map { " Synthetic positives: \($0)." } ?? "")
            + " * marks the default of fit --dual (rule \(defaultRule), isolation \(defaultIsolation)).")
        page.heading("Metrics (%)")
        page.table(id: "metrics", headers: ["configuration", "image AUROC", "pixel AUROC", "AUPRO", "F1-max", "AP"],
                   rows: rows.map { [name($0), pct($0.imageAUROC), pct($0.pixelAUROC), pct($0.aupro), pct($0.f1Max), pct($0.averagePrecision)] })
        // Charted: PatchCore, the defaults of `fit --dual` per positive set and the best other dual row (all rows
        // are in the table; sixty groups of bars would be unreadable).
        var charted = rows.filter { $0.method == "PatchCore" || $0.isDefault }
        if let best = rows.filter({ $0.method != "PatchCore" && !$0.isDefault }).max(by: { $0.imageAUROC < $1.imageAUROC }) {
            charted.append(best)
        }
        func short(_ r: DualAblationRow) -> String {
            r.method == "PatchCore" ? "PatchCore" : "Dual\(r.isDefault ? " *" : " best"), \(r.positives)"
        }
        let labels = charted.map(short)
        let metricValues: [(String, (DualAblationRow) -> Double?)] = [
            ("image AUROC", { $0.imageAUROC }), ("pixel AUROC", { $0.pixelAUROC }), ("AUPRO", { $0.aupro }), ("F1-max", { $0.f1Max }),
        ]
        let shown = metricValues.filter { m in charted.contains { m.1($0) != nil } }
        let all = shown.flatMap { m in charted.compactMap { m.1($0) } }
        let lo = max(0, ((all.min() ?? 0) * 20).rounded(.down) / 20)
        page.chart(id: "metrics-chart", label: "PatchCore, the default dual configuration (*) per positive set and the best other one (\(charted.last.map { [$0.rule, $0.isolation].compactMap { $0 }.joined(separator: ", ") } ?? "-")); the axis starts at \(pct(lo)) %",
                   spec: .bars(categories: labels, shown.map { m in .values(m.0, charted.map { m.1($0) ?? .nan }) },
                               lo: lo, hi: 1, yLabel: "metric"))
        page.heading("Cost")
        page.paragraph("Backbone \(num(backboneMsPerImage)) ms/image, map \(num(mapMsPerImage)) ms/image; scoring timed on \(timingImages) test images; ratio = (backbone + scoring + map) / the same for PatchCore, timed in alternation.")
        page.table(id: "cost", headers: ["configuration", "fit s", "scoring ms/image", "inference ratio", "negative bank", "positive bank (patches)", "s_N-only AUROC %", "-s_P-only AUROC %"],
                   rows: rows.map { r in
                       [name(r), num(r.fitSeconds, 1), num(r.scoreMsPerImage), num(r.inferenceRatio), "\(r.negativeBankRows)",
                        r.positiveBankRows.map { "\($0) (\(r.positivePatches ?? 0))" } ?? "-",
                        pct(r.diagnostics?.negativeOnlyAUROC), pct(r.diagnostics?.positiveOnlyAUROC)]
                   })
        let types = Set(rows.flatMap { ($0.imageAUROCPerDefectType ?? [:]).keys }).sorted()
        if !types.isEmpty {
            page.heading("Image AUROC (%) per defect type")
            page.table(id: "per-type", headers: ["configuration"] + types,
                       rows: rows.map { r in [name(r)] + types.map { pct(r.imageAUROCPerDefectType?[$0]) } })
            let values = charted.flatMap { r in types.compactMap { r.imageAUROCPerDefectType?[$0] } }
            let low = max(0, ((values.min() ?? 0) * 20).rounded(.down) / 20)
            page.chart(id: "per-type-chart", label: "Image AUROC per defect type of the charted configurations",
                       spec: .bars(categories: types, charted.map { r in
                           .values(short(r), types.map { r.imageAUROCPerDefectType?[$0] ?? .nan })
                       }, lo: low, hi: 1, yLabel: "image AUROC"))
        }
        if !warnings.isEmpty {
            page.heading("Warnings (\(warnings.count))")
            page.table(id: "warnings", headers: ["#", "warning"], rows: warnings.prefix(50).enumerated().map { ["\($0.offset + 1)", $0.element] })
        }
        return page
    }
}
