print("DiffusionBench: not built yet")
