import TensorCore
// ImageIO: see ARCHITECTURE.md
