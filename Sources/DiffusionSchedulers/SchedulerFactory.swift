import Foundation

/// Builds a scheduler from diffusers' `scheduler/scheduler_config.json`, by its `_class_name` or by a name the
/// user chose (diffusers' `SomeScheduler.from_config(pipe.scheduler.config)`).
///
/// ```swift
/// var scheduler = try SchedulerFactory.load(configURL: dir.appendingPathComponent("scheduler/scheduler_config.json"))
/// var ddim = try SchedulerFactory.load(configURL: url, override: "ddim")
/// ```
public enum SchedulerFactory {
    /// The diffusers class names implemented here.
    public static let supportedClassNames = [
        EulerDiscreteScheduler.className, DDIMScheduler.className, PNDMScheduler.className,
        DPMSolverMultistepScheduler.className,
    ]

    /// Short names accepted as overrides (case-insensitive), besides the class names.
    public static let aliases: [String: String] = [
        "euler": EulerDiscreteScheduler.className,
        "ddim": DDIMScheduler.className,
        "pndm": PNDMScheduler.className, "plms": PNDMScheduler.className,
        "dpm++2m": DPMSolverMultistepScheduler.className, "dpmpp2m": DPMSolverMultistepScheduler.className,
        "dpmsolver++": DPMSolverMultistepScheduler.className, "dpm": DPMSolverMultistepScheduler.className,
    ]

    /// The diffusers class name for a class name or alias, nil if unknown.
    public static func className(for name: String) -> String? {
        let lowered = name.lowercased()
        if let match = supportedClassNames.first(where: { $0.lowercased() == lowered }) { return match }
        return aliases[lowered]
    }

    /// Reads the config and builds the scheduler named by `override` (a class name or alias), else by `_class_name`.
    public static func load(configURL: URL, override: String? = nil) throws -> any DiffusionScheduler {
        try make(config: SchedulerConfig.load(from: configURL), override: override)
    }

    /// Builds the scheduler named by `override`, else by the config's `_class_name`.
    public static func make(config: SchedulerConfig, override: String? = nil) throws -> any DiffusionScheduler {
        guard let requested = override ?? config.className else {
            throw SchedulerError.unknownScheduler(name: "(no _class_name)", file: config.source,
                                                  supported: supportedClassNames)
        }
        switch className(for: requested) {
        case EulerDiscreteScheduler.className?: return try EulerDiscreteScheduler(config: config)
        case DDIMScheduler.className?: return try DDIMScheduler(config: config)
        case PNDMScheduler.className?: return try PNDMScheduler(config: config)
        case DPMSolverMultistepScheduler.className?: return try DPMSolverMultistepScheduler(config: config)
        default:
            throw SchedulerError.unknownScheduler(name: requested, file: config.source,
                                                  supported: supportedClassNames + aliases.keys.sorted())
        }
    }
}
