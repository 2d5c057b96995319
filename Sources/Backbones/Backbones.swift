import TensorCore
// Backbones: see ARCHITECTURE.md
