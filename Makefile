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

clean:
	rm -rf build/obj build/libpysparsegraph.a $(CTESTS)

.PHONY: all ctest ctest-asan clean

# C-only SpMM harness: ./build/spmm_bench [rmat|er] SCALE K THREADS [REPS]
build/spmm_bench: bench/c/spmm_bench.c build/libpysparsegraph.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(OPENMP) $< build/libpysparsegraph.a -lm -pthread -o $@

bench-c: build/spmm_bench
.PHONY: bench-c
