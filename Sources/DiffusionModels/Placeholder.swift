// Placeholder so the target compiles before its first module lands.
enum DiffusionModelsPlaceholder {}
