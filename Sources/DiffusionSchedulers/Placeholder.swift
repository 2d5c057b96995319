// Placeholder so the target compiles before the diffusion schedulers land.
enum DiffusionSchedulersPlaceholder {}
