# Thin wrapper over CMake/CTest: the short commands people type.
#   make          build everything into build/ (binary: build/dmp)
#   make run      install missing packages, build, serve on the embedded default
#                 (extra flags: make run ARGS="--listen 127.0.0.1:9000")
#   make test     install, build, run every test, then again under ASan+UBSan
#   make asan     only the ASan+UBSan build and tests
#   make fuzz     build the libFuzzer targets into build-fuzz/
#   make bench    run the benchmarks in bench/ (see docs/performance.md)
JOBS ?= $(shell nproc)
BUILD ?= build

.PHONY: all build web deps run test unit asan fuzz bench clean format

all: build

deps:
	@bash scripts/deps.sh build

# The web UI (web/, served by `dmp serve` at /): pinned npm packages, built by Vite into
# web/dist. Skipped with a warning when npm is absent (the server then answers / with 404).
# `npm install --no-save` rather than `npm ci`: npm 11 writes lock files without the other
# platforms' optional packages (rollup's), which `npm ci` then refuses as out of sync. The
# versions stay pinned: exact versions in package.json, and the lock is read, never written.
web:
	@if command -v npm >/dev/null 2>&1; then \
		if [ ! -d web/node_modules ]; then (cd web && npm install --no-save --no-audit --no-fund --loglevel=error); fi && \
		(cd web && npm run --silent build >/dev/null); \
	else \
		echo "warning: npm not found: the web UI (web/dist) is not built" >&2; \
	fi

build: web
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: deps build
	./$(BUILD)/dmp serve $(ARGS)

test:
	@bash scripts/deps.sh test
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@echo "conformance suites (../shared/testsuites):"
	@grep -hE '^(CESQL TCK|json-parsing|json-schema draft2020-12|jsonpath cts|yaml suite|descriptor cases):' \
		$(BUILD)/Testing/Temporary/LastTest.log | sed 's/^/  /'
	@$(MAKE) --no-print-directory asan

asan:
	@bash scripts/deps.sh test
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDMP_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) -LE slow

fuzz:
	@bash scripts/deps.sh test
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DDMP_SANITIZE=ON -DDMP_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

bench:
	@bash scripts/deps.sh bench
	@$(MAKE) --no-print-directory build
	bash bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz
