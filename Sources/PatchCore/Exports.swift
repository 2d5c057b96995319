// `import PatchCore` is all an app needs: the modules whose types appear in this library's public signatures are
// re-exported (tensors, images, data sets, banks, scoring rules, metrics, defect folders, patch grids, backbones).
@_exported import Backbones
@_exported import Datasets
@_exported import Defects
@_exported import Evaluation
@_exported import ImageIO
@_exported import MemoryBank
@_exported import PatchFeatures
@_exported import Scoring
@_exported import TensorCore
