import TensorCore
// Checkpoints: see ARCHITECTURE.md
