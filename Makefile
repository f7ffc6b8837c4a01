# Convenience front end over CMake. `make run` and `make check` are the two
# commands the README promises work on a fresh Debian 12 machine.

BUILD    ?= build
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
DATA     ?= $(CURDIR)/var
LISTEN   ?= 127.0.0.1:8080
JPKI      = $(BUILD)/jpki

.PHONY: all setup build install run check demo dist asan ubsan fuzz bench format clean

all: build

setup:
	@bash scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The programs, the browser extension and its native host's manifests
# (docs/BROWSER.md); PREFIX defaults to CMake's (/usr/local).
install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

run: build
	@mkdir -p $(DATA)
	@if [ ! -f $(DATA)/jpki.db ]; then \
		$(JPKI) --data $(DATA) ca init --public-url http://$(LISTEN); \
	fi
	$(JPKI) --data $(DATA) serve --listen $(LISTEN)

check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole story of the seeds, end to end, with plain output (needs root to
# start pcscd when none runs).
demo: build
	bash scripts/demo.sh $(JPKI)

# The client software as the portal offers it: a tarball of jpki and its
# SHA-256 in the data directory's portal/download (docs/REGISTRY.md).
dist: build
	bash scripts/dist.sh $(JPKI) $(DATA)/portal/download

# Address and undefined-behaviour sanitizers over the whole test suite.
asan: setup
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DJPKI_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

# clang's UndefinedBehaviorSanitizer over the whole test suite: it checks
# what gcc's (in `make asan`) does not, e.g. arithmetic on a null pointer;
# any report stops the program, so the test that ran it fails.
ubsan: setup
	CC=clang cmake -S . -B build-ubsan -DCMAKE_BUILD_TYPE=Debug -DJPKI_UBSAN=ON
	cmake --build build-ubsan -j $(JOBS)
	cd build-ubsan && UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

# libFuzzer builds of every fuzz target (clang); run one with
#   build-fuzz/fuzz/ocsp_request_fuzzer fuzz/corpora/ocsp_request
fuzz: setup
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DJPKI_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS)

bench: build
	$(BUILD)/bench/issue_bench
	$(BUILD)/bench/crl_bench
	$(BUILD)/bench/registry_bench
	$(BUILD)/bench/lookup_bench
	$(BUILD)/bench/verify_bench
	bash bench/ocsp_bench.sh $(JPKI)
	bash bench/ocsp_flood_bench.sh $(JPKI)
	bash bench/pg_bench.sh $(JPKI)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-ubsan build-fuzz
