import TensorCore
// Datasets: see ARCHITECTURE.md
