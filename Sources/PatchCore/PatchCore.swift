import TensorCore
// PatchCore: see ARCHITECTURE.md
