import TensorCore
// Evaluation: see ARCHITECTURE.md
