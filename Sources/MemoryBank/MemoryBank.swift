import TensorCore
// MemoryBank: see ARCHITECTURE.md
