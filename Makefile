# `make test` and `make quickstart` work on a fresh Debian machine as root: they install what is
# missing, configure, build and run.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
DEBIAN_PACKAGES = build-essential cmake libdnnl-dev libopenblas-openmp-dev libhdf5-dev libyaml-cpp-dev \
                  libgtest-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev libjpeg-dev libpng-dev zlib1g-dev \
                  libtiff-dev libwebp-dev libstb-dev pkg-config \
                  libpugixml-dev libcsv-dev gnuplot-nox libicu-dev libsentencepiece-dev \
                  libprotobuf-dev protobuf-compiler libonnx-dev \
                  libopenmpi-dev openmpi-bin libgloo-dev
QUICKSTART_PACKAGES = dataset-fashion-mnist
PEER_PACKAGES = python3-torch python3-torchvision python3-h5py python3-numpy python3-scipy python3-onnx

.PHONY: deps test-deps configure build test test-sanitize bench golden golden-tokenizers clean quickstart fuzz-deps fuzz-build fuzz fuzz-corpus check-interop

deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# What the tests need beyond the build: Debian's PyTorch stack for the export-to-PyTorch checks
# (torchvision's resnet18, a timm-named ViT) and Fashion-MNIST for the real IDX reader test. Without
# them those tests would skip, and a skip looks like a pass in ctest.
test-deps:
	@missing=""; for p in $(PEER_PACKAGES) $(QUICKSTART_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# TESSERA_REQUIRE_TESTS=1: everything installed above must be used, so a test that would skip for
# want of it fails instead (tests/testing/skip.h); only data a user brings (../shared/data) may
# skip, and ctest lists such tests as skipped, not passed.
test: build test-deps
	cd $(BUILD) && TESSERA_REQUIRE_TESTS=1 ctest --output-on-failure -j $(JOBS)

# Exports checked in the tools users load them with (tests/interop/check_interop.py): safetensors
# weights of a ResNet-18 and a ViT into torchvision's resnet18 and timm's ViT with strict=True,
# logits compared with Tessera's to 1e-4 on real images (../shared/data/cifar10-jpg); the same runs
# exported as ONNX in ONNX Runtime (and a trained tiny-MOAT, hag_vit and byte-level Transformer LM),
# their TensorBoard events read by tensorboard's EventAccumulator; then every ONNX graph of
# tests/experiments/test_onnx_export.cpp (ResNet, HagResNet, multistream, ViT, hag_vit, MOAT,
# Transformer LM) in ONNX Runtime too. PyPI packages go into a venv under $(BUILD) that sees
# Debian's torch/torchvision (the versions `make test` uses).
INTEROP_VENV = $(BUILD)/interop-venv
INTEROP_PIP = safetensors timm torchvision tensorboard onnxruntime
check-interop: build test-deps
	@test -x $(INTEROP_VENV)/bin/python || /usr/bin/python3 -m venv --system-site-packages $(INTEROP_VENV)
	$(INTEROP_VENV)/bin/pip install -q $(INTEROP_PIP)
	$(INTEROP_VENV)/bin/python tests/interop/check_interop.py $(BUILD)
	TESSERA_ONNXRUNTIME_PYTHON=$(abspath $(INTEROP_VENV))/bin/python $(BUILD)/tests/test_onnx_export

# ASan + UBSan build of the whole suite (CI's sanitizer configuration).
# Executables are linked without debug sections (-Wl,--strip-debug; ASan reports keep function names):
# each test links every library, and with -g one is ~430 MB, ~40 GB for the suite.
test-sanitize:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DTESSERA_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_EXE_LINKER_FLAGS=-Wl,--strip-debug"

# Trains configs/quickstart.yaml (small CNN, Fashion-MNIST from the Debian package) and prints the
# test accuracy and where the checkpoints, metrics log and plots are (runs/quickstart/).
quickstart: configure
	@for p in $(QUICKSTART_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(QUICKSTART_PACKAGES); break; }; done
	cmake --build $(BUILD) -j $(JOBS) --target tessera
	$(BUILD)/tessera train configs/quickstart.yaml

bench: build
	$(BUILD)/bench/tessera_bench_ops

# Regenerates every PyTorch golden file (tests/parity/golden/, tests/data/golden/) with Debian's
# python3-torch: /usr/bin/python3, not whatever python3 is first on PATH (a pip install there has
# another torch, or none).
golden: golden-tokenizers
	@for p in $(PEER_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PEER_PACKAGES); break; }; done
	for s in tests/parity/gen_*.py tests/data/gen_*.py; do [ "$$s" = tests/data/gen_tokenizers.py ] && continue; echo "$$s"; /usr/bin/python3 $$s || exit 1; done

# Reference ids of the tokenizers (tests/data/gen_tokenizers.py): Hugging Face `tokenizers` from PyPI,
# installed into a venv under the build folder (only for references, never a dependency of the build).
# Retrains and rewrites tests/data/golden/tokenizers/ (committed; Hugging Face's WordPiece trainer is
# not deterministic, so its vocab.txt may change: Tessera matched two such vocabularies id for id) and
# writes $(BUILD)/golden/tokenizers/*.ids.gz (not committed).
golden-tokenizers:
	@dpkg -s python3-venv >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	[ -x $(BUILD)/venv-tokenizers/bin/python ] || python3 -m venv $(BUILD)/venv-tokenizers
	$(BUILD)/venv-tokenizers/bin/pip install -q tokenizers==0.23.3
	$(BUILD)/venv-tokenizers/bin/python tests/data/gen_tokenizers.py ../shared/data/wikitext-2/wikitext-2-raw $(BUILD)

# libFuzzer targets (fuzz/: checkpoint, config, idx, cifar_pickle, image, csv, voc_xml, text, safetensors,
# sentencepiece) built with clang, ASan and UBSan in $(FUZZ_BUILD); `make fuzz` runs each for FUZZ_SECONDS from its seed
# corpus in fuzz/corpus/<target>/ and prints executions, exec/s, corpus size and findings per
# target (inputs that crash go to $(FUZZ_BUILD)/fuzz-artifacts/). FUZZ_TARGETS picks some,
# FUZZ_FLAGS adds libFuzzer flags (e.g. FUZZ_FLAGS="-jobs=2 -workers=2").
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
FUZZ_FLAGS ?=
# Debian's default clang; libclang-rt-dev holds libFuzzer and the sanitizer runtimes, libomp-dev
# the OpenMP runtime clang links.
FUZZ_PACKAGES = clang libclang-rt-dev libomp-dev

fuzz-deps: deps
	@missing=""; for p in $(FUZZ_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

fuzz-build: fuzz-deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DTESSERA_FUZZ=ON -DCMAKE_BUILD_TYPE=Fuzz $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_FLAGS="$(FUZZ_FLAGS)" fuzz/run_fuzzers.sh $(FUZZ_BUILD) $(FUZZ_TARGETS)

# Rewrites the committed seed corpora (fuzz/corpus/) from the project's writers and numpy.
fuzz-corpus: fuzz-build
	@dpkg -s python3-numpy >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-numpy; }
	rm -rf fuzz/corpus
	$(FUZZ_BUILD)/fuzz/fuzz_make_corpus fuzz/corpus .
	/usr/bin/python3 fuzz/make_corpus_pickle.py fuzz/corpus/cifar_pickle

clean:
	rm -rf $(BUILD) build-asan $(FUZZ_BUILD)
