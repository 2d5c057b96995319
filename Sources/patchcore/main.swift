import PatchCore
print("patchcore: not yet")
