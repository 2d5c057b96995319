import Foundation
import PatchCore
import TensorCore

/// Everything `patchcore serve` is started with.
public struct ServiceConfiguration: Sendable {
    /// Holds `patchcore.sqlite` (unless `databaseURL` is set) and `blobs/`.
    public var dataDirectory: URL
    /// `postgres://...` for PostgreSQL; nil for the embedded SQLite file.
    public var databaseURL: String?
    /// Loopback unless told otherwise.
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (tests); the bound one is reported by `InspectionServer.onListening`.
    public var port: Int = 8080
    /// Request bodies above this are refused with 413 before they are read whole.
    public var maxUploadBytes: Int = 32 << 20
    /// A batch dataset upload (multipart or zip of many images) may be this large; each image in it at most
    /// `maxUploadBytes`.
    public var maxBatchUploadBytes: Int = 512 << 20
    /// Model files uploaded as new versions may be this large (a bank of a large data set runs to hundreds of MB).
    public var maxModelUploadBytes: Int = 2 << 30
    /// Inspections scored at once.
    public var inferenceWorkers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Inspections allowed to wait for a worker; one more is answered 503 with Retry-After.
    public var inferenceQueue: Int = 32
    /// Limits on decoded images and files (the reliability policy), applied to every upload.
    public var limits: InputLimits = InputLimits()
    /// How often a replica looks for models activated by another one (the bound on how long a replica may keep
    /// scoring with the previous version).
    public var modelRefreshSeconds: Double = 2
    /// Hot folders: every image that appears in `folder` is inspected as `product`.
    public var watch: [(folder: URL, product: String)] = []
    /// How often hot folders are listed; a file counts as complete once unchanged over one interval.
    public var hotFolderPollSeconds: Double = 0.5
    /// Jobs (fits) run at once by this replica; 0: this replica runs none.
    public var jobWorkers: Int = 1
    /// Feature bytes a fit job holds before its bank is built chunk by chunk (`FitOptions.featureMemory`).
    public var fitFeatureMemory: Int = FitOptions.defaultFeatureMemory
    /// A job's lease: a replica that has not renewed it for this long is taken for dead and its job taken over.
    public var jobLeaseSeconds: Double = 30
    /// How often an idle job worker looks for queued jobs.
    public var jobPollSeconds: Double = 1
    /// How often idle webhook senders look for due deliveries (the usual delay between an inspection and its
    /// webhook call).
    public var webhookPollSeconds: Double = 0.25
    /// The first retry's delay; each further one doubles it, up to 5 minutes.
    public var webhookRetrySeconds: Double = 1
    /// Attempts before a delivery is given up as failed (10 at the defaults span about 8.5 minutes).
    public var webhookMaxAttempts: Int = 10
    /// A receiver that has not answered within this is a failed attempt.
    public var webhookTimeoutSeconds: Double = 10
    /// A connection that has sent no complete request part for this long is closed: a client that went silent,
    /// or one that trickles a request's headers a byte at a time, does not hold a descriptor for ever.
    public var idleTimeoutSeconds: Double = 30
    /// Backbone weights to use instead of the cache's (tests; a site with its own weights file).
    public var weights: URL? = nil
    /// How inspections search each model's normal bank: exact unless the site opts into the approximate
    /// inverted-file search (`serve --search ivf`; thresholds stay the exactly fitted ones).
    public var search: SearchMethod = .exact
    /// A diffusers inpainting model folder for diffusion synthesis jobs (nil: classical synthesis only).
    public var diffusers: URL? = nil
    /// The most samples one synthesis job may make (diffusion: per prompt).
    public var maxSynthesisSamples: Int = 1000
    /// A name for this process in job leases and logs (host name + pid by default).
    public var replicaName: String = "\(ProcessInfo.processInfo.hostName)-\(getpid())"

    public init(dataDirectory: URL, databaseURL: String? = nil) {
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
    }
}
