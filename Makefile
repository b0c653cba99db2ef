# Builds the C core as a plain C library (no Python) and runs the C-only tests.
#   make            -> build/libpysparsegraph.a
#   make ctest      -> builds and runs tests/c/*.c against the library
#   make ctest-asan -> the same under AddressSanitizer + UndefinedBehaviorSanitizer
CC ?= cc
OPENMP ?= -fopenmp
CFLAGS ?= -O3 -std=c11 -Wall -Wextra -Wno-unknown-pragmas
CPPFLAGS += -Iinclude -Isrc
SRC := $(wildcard src/*.c)
OBJ := $(patsubst src/%.c,build/obj/%.o,$(SRC))
CTESTS := $(patsubst tests/c/%.c,build/%,$(wildcard tests/c/test_*.c))

all: build/libpysparsegraph.a

build/obj/%.o: src/%.c $(wildcard src/*.h src/templates/*.inc include/pysparsegraph/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(OPENMP) -c $< -o $@

build/libpysparsegraph.a: $(OBJ)
	ar rcs $@ $^

build/test_%: tests/c/test_%.c build/libpysparsegraph.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(OPENMP) $< build/libpysparsegraph.a -lm -pthread -o $@

ctest: $(CTESTS)
	@set -e; for t in $(CTESTS); do echo "== $$t"; ./$$t; done

# The same tests built with AddressSanitizer + UndefinedBehaviorSanitizer (-O0: spmm.c's
# templates take over 12 CPU-minutes to compile sanitized at -O1). A read or write outside
# an array, or undefined behaviour, stops the test with a report.
SANITIZE_FLAGS = -O0 -g -std=c11 -Wall -Wextra -Wno-unknown-pragmas -fsanitize=address,undefined \
                 -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ctest-asan:
	$(MAKE) clean >/dev/null
	$(MAKE) ctest CFLAGS="$(SANITIZE_FLAGS)"
	$(MAKE) clean >/dev/null

# The Python extension built the same way (PYSPARSEGRAPH_SANITIZE=1) from a copy of the sources
# (a build folder of the checkout could hand back the optimized extension) into build/asan, and
# the Python tests against it: the paths only Python reaches (the wrappers, a plan's buffers, the
# GNN options, the readers) run under the sanitizers too. Python itself is not instrumented, so
# the ASan runtime is preloaded (with libstdc++: ASan must find its exception throw at start-up,
# or torch's C++ exceptions abort), and the tests run from build/asan so that it comes first on
# the path (and the shared graphs are named, ../shared/data beside the checkout unless set).
# Allocations too big to make return NULL, as they do outside ASan: tests ask for them.
ASAN_PYTESTS ?= tests
ASAN_RUN = cd build/asan && PYTHONPATH=$(CURDIR)/build/asan \
           PYSPARSEGRAPH_DATA="$${PYSPARSEGRAPH_DATA:-$(CURDIR)/../shared/data}" \
           LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libstdc++.so.6)" \
           ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 python
pytest-asan:
	rm -rf build/asan build/asan-src && mkdir -p build/asan-src
	cp -r setup.py pyproject.toml README.md src include pysparsegraph build/asan-src/
	rm -f build/asan-src/pysparsegraph/*.so build/asan-src/pysparsegraph/_core.c
	cd build/asan-src && PYSPARSEGRAPH_SANITIZE=1 python -m pip install --quiet --no-deps --target $(CURDIR)/build/asan .
	ldd build/asan/pysparsegraph/_core*.so | grep -q libasan || { echo "build/asan: not a sanitized build"; exit 1; }
	$(ASAN_RUN) -c 'import pysparsegraph as p, sys; sys.exit("/build/asan/" not in p.__file__ and p.__file__)'
	$(ASAN_RUN) -m pytest -q -p no:cacheprovider $(addprefix $(CURDIR)/,$(ASAN_PYTESTS))
	rm -rf build/asan-src

clean:
	rm -rf build/obj build/libpysparsegraph.a $(CTESTS)

.PHONY: all ctest ctest-asan pytest-asan clean

# C-only SpMM harness: ./build/spmm_bench [rmat|er] SCALE K THREADS [REPS]
build/spmm_bench: bench/c/spmm_bench.c build/libpysparsegraph.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(OPENMP) $< build/libpysparsegraph.a -lm -pthread -o $@

bench-c: build/spmm_bench
.PHONY: bench-c
