# mk/hardening.mk - sanitizer builds, fuzzing, memcheck and the conformance
# suite. Included by the main Makefile. Every build here goes into
# its own directory (build-asan/, build-tsan/, build-fuzz/), so the normal
# build in build/, shmd/shmd and preload/ is never overwritten.
#
#   make test-asan     unit + integration suites with the shim, the daemon,
#                      the tests and helpers built with ASan+UBSan
#   make test-tsan     the unit suites built with TSan
#   make fuzz-ci       every libFuzzer harness (fuzz/fuzz_*.c) for
#                      FUZZ_CI_TIME s (60), all at once
#   make fuzz          the same for FUZZ_TIME s (1800) each
#   make valgrind      the integration suites with every daemon under
#                      memcheck: no error, no leak (logs in build/valgrind/)
#   make conformance   CPython's file and I/O tests with their files inside a
#                      cached prefix, without and with the shim: same results
#   make hardening-ci  what `make test` adds (TEST_STAGES): the builds above
#                      in parallel, then the ASan and TSan suites while the
#                      fuzzers run beside them at low priority, then the CI
#                      part of the conformance suite
#
# The sanitizer builds are recursive makes of the main Makefile's rules with
# B, CC, CFLAGS and LDFLAGS set; the product is linked into B/bin/shmd and
# B/lib/libshmcache.so (the installed layout: `shmd exec` of a sanitized
# daemon finds the sanitized library next to it), and the integration
# harness is pointed at them with SHMCACHE_TEST_SHMD/_LIB/_PRELOAD
# (tests/lib/harness.c).

SAN_CC       ?= gcc
FUZZ_CC      ?= clang
SAN_JOBS     ?= 2
ASAN_B       := build-asan
TSAN_B       := build-tsan
FUZZ_B       := build-fuzz
ASAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
# gcc does not instrument atomic_thread_fence for TSan and warns (-Wtsan);
# every access the seqlock fences order is itself atomic, so TSan has
# nothing to miss there
TSAN_FLAGS   := -fsanitize=thread
FUZZ_CI_TIME ?= 60
FUZZ_TIME    ?= 1800
FUZZERS      := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_JOBS    ?= $(words $(FUZZERS))

# ---- products in $(B) for the recursive builds ----------------------------------
$(B)/lib/libshmcache.so: $(SHIM_OBJ) $(B)/libshmcache.map
	@mkdir -p $(dir $@)
	$(SHIM_LINK)

$(B)/bin/shmd: $(SHMD_OBJ) $(TIER_OBJ)
	@mkdir -p $(dir $@)
	$(SHMD_LINK)

# Host programs run under a sanitized shim with the runtime preloaded first;
# tests/helpers/asan_compat.c, preloaded before it, lets them keep glibc's
# aligned_alloc (coreutils' dd relies on it; the runtime aborts).
$(B)/lib/asan-compat.so: tests/helpers/asan_compat.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -shared -fPIC -o $@ $<

san-all: $(B)/bin/shmd $(B)/lib/libshmcache.so $(UNIT_TESTS) $(INTEG_TESTS) $(HELPERS)
san-unit: $(UNIT_TESTS)

# ---- ASan + UBSan ----------------------------------------------------------------------
# Host programs (python3, cat, sh) are not instrumented: their own leaks are
# not ours (detect_leaks=0), and `shmd exec` preloads the library without
# the runtime in front (verify_asan_link_order=0). The daemon of the suites
# in ASAN_LSAN_TESTS also runs under LeakSanitizer (bin/shmd-lsan: its check
# at exit costs a quarter of a second per daemon, too much for them all);
# `make valgrind` checks every daemon for leaks.
ASAN_RT      = $(shell $(SAN_CC) -print-file-name=libasan.so)
ASAN_OPTS    := detect_leaks=0:verify_asan_link_order=0:abort_on_error=0:halt_on_error=1
UBSAN_OPTS   := print_stacktrace=1:halt_on_error=1
ASAN_LSAN_TESTS ?= test_cli test_consistency test_concurrency test_daemon
# test_hooks passes unreadable pointers to libc: the sanitizer runtime's own
# interceptors (preloaded into every host program of this stage) read them
# before the shim or the kernel could, so the contract is checked by the
# normal stage only
ASAN_SKIP     := test_hooks
ASAN_TESTS    = $(filter-out $(addprefix %/,$(ASAN_SKIP)),\
                  $(patsubst $(B)/%,$(ASAN_B)/%,$(UNIT_TESTS) $(INTEG_TESTS)))
ASAN_ENV      = SHMCACHE_TEST_LIB=$(CURDIR)/$(ASAN_B)/lib/libshmcache.so \
                SHMCACHE_TEST_PRELOAD=$(CURDIR)/$(ASAN_B)/lib/asan-compat.so:$(ASAN_RT) \
                ASAN_OPTIONS=$(ASAN_OPTS) UBSAN_OPTIONS=$(UBSAN_OPTS)

asan-build:
	@$(MAKE) --no-print-directory -j$(SAN_JOBS) B=$(ASAN_B) CC=$(SAN_CC) \
	    CFLAGS="-O1 -g $(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)" san-all $(ASAN_B)/lib/asan-compat.so
	@printf '#!/bin/sh\n# the daemon (options first) under LeakSanitizer too\ncase "$$1" in -*) ASAN_OPTIONS="$${ASAN_OPTIONS:+$$ASAN_OPTIONS:}detect_leaks=1"; export ASAN_OPTIONS ;; esac\nexec "$$(dirname "$$0")/shmd" "$$@"\n' \
	    > $(ASAN_B)/bin/shmd-lsan
	@chmod 755 $(ASAN_B)/bin/shmd-lsan

asan-run:
	@echo "=== ASan+UBSan: unit and integration suites ($(ASAN_B))"
	@$(ASAN_ENV) SHMCACHE_TEST_SHMD=$(CURDIR)/$(ASAN_B)/bin/shmd \
	 tests/run.sh $(filter-out $(addprefix %/,$(ASAN_LSAN_TESTS)),$(ASAN_TESTS)); rc=$$?; \
	 echo "=== ASan+UBSan, the daemon also under LeakSanitizer: $(ASAN_LSAN_TESTS)"; \
	 $(ASAN_ENV) SHMCACHE_TEST_SHMD=$(CURDIR)/$(ASAN_B)/bin/shmd-lsan \
	 tests/run.sh $(filter $(addprefix %/,$(ASAN_LSAN_TESTS)),$(ASAN_TESTS)) && exit $$rc

test-asan: asan-build
	@$(MAKE) --no-print-directory asan-run

# ---- TSan --------------------------------------------------------------------------------
# setarch -R: TSan's fixed shadow layout can collide with the randomised
# mappings of a kernel with many mmap random bits; without randomisation
# it always fits.
TSAN_OPTS := halt_on_error=1:second_deadlock_stack=1

tsan-build:
	@$(MAKE) --no-print-directory -j$(SAN_JOBS) B=$(TSAN_B) CC=$(SAN_CC) \
	    CFLAGS="-O1 -g $(TSAN_FLAGS) -Wno-tsan" LDFLAGS="$(TSAN_FLAGS)" san-unit

tsan-run:
	@echo "=== TSan: unit suites ($(TSAN_B))"
	@TSAN_OPTIONS=$(TSAN_OPTS) setarch $$(uname -m) -R \
	 tests/run.sh $(patsubst $(B)/%,$(TSAN_B)/%,$(UNIT_TESTS))

test-tsan: tsan-build
	@$(MAKE) --no-print-directory tsan-run

# ---- fuzzing --------------------------------------------------------------------------------
# One libFuzzer binary per fuzz/fuzz_*.c, linked with the objects of the
# code it drives, built into $(FUZZ_B)/obj/ with coverage instrumentation
# and the daemon's checks at level 2 (store_validate at every unlock), as
# the unit tests are.
FUZZ_CFLAGS := $(BASE) $(CPPFLAGS) -O1 -g -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined -pthread -DSHMCACHE_DEBUG=2
fuzz_objs = $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(1))
FUZZ_OBJS_fuzz_index   := $(call fuzz_objs,$(TIER_SRC) shmd/store.c shmd/debug.c shmd/snapshot.c shmd/fdio.c shmd/log.c)
FUZZ_OBJS_fuzz_miss    := $(call fuzz_objs,$(TIER_SRC) $(SHMD_LIB))
FUZZ_OBJS_fuzz_control := $(call fuzz_objs,$(TIER_SRC) $(SHMD_LIB))

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) -c $< -o $@

$(addprefix $(FUZZ_B)/,$(FUZZERS)): $(FUZZ_B)/%: $(FUZZ_B)/obj/fuzz/%.o $$(FUZZ_OBJS_$$*)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FLEET_LIBS)

-include $(wildcard $(FUZZ_B)/obj/*/*.d)

fuzz-build: $(addprefix $(FUZZ_B)/,$(FUZZERS))

# fuzz/run: each harness from its seed corpus fuzz/corpus/NAME (read only)
# into a working corpus in build-fuzz/corpus/NAME, FUZZ_JOBS at once.
fuzz-ci: fuzz-build
	@fuzz/run $(FUZZ_B) $(FUZZ_CI_TIME) $(FUZZ_JOBS) $(FUZZERS)

fuzz: fuzz-build
	@fuzz/run $(FUZZ_B) $(FUZZ_TIME) $(FUZZ_JOBS) $(FUZZERS)

# ---- valgrind memcheck on the daemon ---------------------------------------------------------
# Every daemon an integration test starts runs under memcheck (the shmd
# commands, which only talk to it, run natively); conformance/valgrind-check
# then requires every log to be free of errors and leaks.
VG_DIR   := $(B)/valgrind
VG_TESTS ?= $(INTEG_TESTS)

valgrind: all $(INTEG_TESTS) $(HELPERS)
	@rm -rf $(VG_DIR) && mkdir -p $(VG_DIR)
	@chmod 1777 $(VG_DIR) # daemons the tests run as nobody write their logs here too
	@printf '#!/bin/sh\ncase "$$1" in\n-*) exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --log-file=$(CURDIR)/$(VG_DIR)/shmd.%%p.log $(CURDIR)/shmd/shmd "$$@" ;;\n*) exec $(CURDIR)/shmd/shmd "$$@" ;;\nesac\n' \
	    > $(VG_DIR)/shmd-vg
	@chmod 755 $(VG_DIR)/shmd-vg
	@SHMCACHE_TEST_SHMD=$(CURDIR)/$(VG_DIR)/shmd-vg SHMCACHE_TEST_SLOW_DAEMON=1 \
	 tests/run.sh $(VG_TESTS); rc=$$?; \
	 conformance/valgrind-check $(VG_DIR) && exit $$rc

# ---- conformance ------------------------------------------------------------------------------
# CPython's own file and I/O tests (Debian: libpython3.11-testsuite).
# CONFORMANCE_TESTS is the full set (make conformance, about 3 minutes);
# CONFORMANCE_CI_TESTS the part that fits the CI budget.
CONFORMANCE_TESTS ?= test_fileio test_file test_io test_os test_shutil test_tempfile \
                     test_pathlib test_fileinput test_glob test_zipfile test_tarfile test_mmap \
                     test_univnewlines test_bufio test_memoryio test_largefile \
                     test_stat test_posixpath test_genericpath test_importlib
CONFORMANCE_CI_TESTS ?= test_fileio test_file test_os test_fileinput test_univnewlines test_largefile \
                        test_bufio test_glob test_stat test_posixpath test_genericpath test_importlib

conformance-deps:
	@test -f /usr/lib/python3.11/test/test_fileio.py || \
	  { echo "installing libpython3.11-testsuite"; \
	    $(SUDO) apt-get install -y libpython3.11-testsuite >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update >/dev/null && $(SUDO) apt-get install -y libpython3.11-testsuite >/dev/null; }; }

conformance: all conformance-deps
	@conformance/run $(CONFORMANCE_TESTS)

conformance-ci: all conformance-deps
	@conformance/run $(CONFORMANCE_CI_TESTS)

# ---- what `make test` adds ----------------------------------------------------------------------
# The three builds at once; then the ASan and TSan suites while the fuzzers
# run beside them at the lowest priority (the suites wait on processes most
# of the time; the fuzzers take what is left of the two cores); then the
# conformance suite on a quiet machine.
# What the stages need beyond `make deps` on a fresh Debian 12: clang with
# its libFuzzer runtime (gcc's sanitizer runtimes come with gcc).
HARDENING_DEPS_MISSING = $(shell command -v $(FUZZ_CC) >/dev/null || echo clang; \
    test -f "$$($(FUZZ_CC) -print-file-name=libclang_rt.fuzzer-$(ARCH).a 2>/dev/null)" || \
    echo libclang-rt-14-dev)
hardening-deps:
	@if [ -n "$(strip $(HARDENING_DEPS_MISSING))" ]; then \
	  echo "installing $(strip $(HARDENING_DEPS_MISSING))"; \
	  $(SUDO) apt-get install -y $(HARDENING_DEPS_MISSING) >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update >/dev/null && $(SUDO) apt-get install -y $(HARDENING_DEPS_MISSING) >/dev/null; }; \
	fi

fuzz-build: hardening-deps

hardening-ci: hardening-deps
	@$(MAKE) --no-print-directory -j3 asan-build tsan-build fuzz-build
	@nice -n 19 fuzz/run $(FUZZ_B) $(FUZZ_CI_TIME) $(FUZZ_JOBS) $(FUZZERS) \
	    > $(FUZZ_B)/ci.log 2>&1 & fuzzing=$$!; \
	 $(MAKE) --no-print-directory asan-run tsan-run; rc=$$?; \
	 wait $$fuzzing; frc=$$?; cat $(FUZZ_B)/ci.log; \
	 test $$rc = 0 -a $$frc = 0
	@$(MAKE) --no-print-directory conformance-ci

TEST_STAGES += hardening-ci

.PHONY: san-all san-unit asan-build asan-run test-asan tsan-build tsan-run test-tsan \
        fuzz-build fuzz-ci fuzz valgrind conformance conformance-ci conformance-deps hardening-ci \
        hardening-deps
