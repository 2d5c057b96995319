// libFuzzer target: the service's decoding of request bodies, the parts a client controls byte for byte, without a
// socket or a database. The first byte picks the decoder:
//   0  a batch upload as multipart/form-data (DatasetBatch.files + items); the next byte is the boundary's length,
//      then the boundary, then the body
//   1  a batch upload as application/zip (DatasetBatch.files + items)
//   2  a fit job body: the request decoder, then FitJobParams.config() and the snake_case round trip the job store
//      and JobWorker make
//   3  a synthesize job body: the request decoder, then SynthesizeJobParams.validate
//   4  the other JSON bodies (product, review, verdict, threshold, evaluate, placement, webhook URL check, API key)
//   5  header values: DatasetBatch.parameter (boundary, filename), InspectionAPI.isLabel, isImageName
// A thrown error (an HTTPError or StoreError the router turns into a 4xx) is fine; a trap, an ASan report, a timeout
// or running out of memory is a finding. PATCHCORE_FUZZ=1 only.
import Foundation
import InspectionStore
@testable import InspectionService

private let decoder: JSONDecoder = {
    let d = JSONDecoder()
    d.keyDecodingStrategy = .convertFromSnakeCase   // as ServiceContext.requestDecoder
    return d
}()

private func batch(_ body: Data, contentType: String) {
    guard let (files, _) = try? DatasetBatch.files(body: body, contentType: contentType, maxFileBytes: 1 << 20) else { return }
    _ = try? DatasetBatch.items(files, label: nil)
    _ = try? DatasetBatch.items(files, label: "crack")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServiceRequest(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count >= 1 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let rest = Data(bytes[1...])
    switch bytes[0] % 6 {
    case 0:
        guard let n = rest.first else { return 0 }
        let boundaryBytes = rest.dropFirst().prefix(Int(n))
        let boundary = String(decoding: boundaryBytes, as: UTF8.self)
        let body = Data(rest.dropFirst(1 + boundaryBytes.count))
        batch(body, contentType: "multipart/form-data; boundary=\"\(boundary)\"")
        batch(body, contentType: "multipart/form-data; boundary=\(boundary)")
    case 1:
        batch(rest, contentType: "application/zip")
    case 2:
        if let params = try? decoder.decode(FitJobParams.self, from: rest), (try? params.config()) != nil,
           let stored = try? JSONEncoder.snakeCase.encode(params) {
            // What the job worker reads back must be what the route accepted.
            guard let again = try? JSONDecoder.snakeCase.decode(FitJobParams.self, from: stored) else {
                fatalError("a fit job accepted by the route does not decode in the worker: \(String(decoding: stored, as: UTF8.self))")
            }
            _ = try? again.config()
        }
    case 3:
        if let params = try? decoder.decode(SynthesizeJobParams.self, from: rest) {
            _ = try? params.validate(maxSamples: 1000, diffusers: nil)
            _ = try? params.validate(maxSamples: 1000, diffusers: URL(fileURLWithPath: "/nonexistent-diffusers"))
        }
    case 4:
        _ = try? decoder.decode(NewProductRequest.self, from: rest)
        if let review = try? decoder.decode(ReviewRequest.self, from: rest), let mask = review.maskBase64 {
            _ = Data(base64Encoded: mask)
        }
        _ = try? decoder.decode(VerdictRequest.self, from: rest)
        _ = try? decoder.decode(ThresholdRequest.self, from: rest)
        _ = try? decoder.decode(EvaluateRequest.self, from: rest)
        _ = try? decoder.decode(EvaluateJobParams.self, from: rest)
        _ = try? decoder.decode(NewPlacementRequest.self, from: rest)
        if let hook = try? decoder.decode(NewWebhookRequest.self, from: rest) {
            _ = try? InspectionStore.validateWebhookURL(hook.url)
        }
        _ = try? decoder.decode(NewKeyRequest.self, from: rest)
    default:
        let text = String(decoding: rest, as: UTF8.self)
        _ = DatasetBatch.parameter("boundary", of: text)
        _ = DatasetBatch.parameter("filename", of: text)
        _ = DatasetBatch.isImageName(text)
        _ = InspectionAPI.isLabel(text)
    }
    return 0
}
