import TensorCore
// PatchFeatures: see ARCHITECTURE.md
