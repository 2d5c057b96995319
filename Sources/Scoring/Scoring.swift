import TensorCore
// Scoring: see ARCHITECTURE.md
