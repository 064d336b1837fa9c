# shmcache - build, test, install. `make`, `make test`, `make run`,
# `make bench`, `make install PREFIX=/usr/local`. Local overrides go in
# config.mak (CC, CFLAGS, PREFIX, ...).
-include config.mak

CC      ?= cc
PREFIX  ?= /usr/local
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE    := -std=gnu11 -I. -D_GNU_SOURCE -fno-strict-aliasing $(WARN)
SHIM_CFLAGS := $(BASE) $(CFLAGS) -fPIC -fvisibility=hidden -U_FORTIFY_SOURCE -fno-stack-protector
PROG_CFLAGS := $(BASE) $(CFLAGS) -pthread

B := build

TIER_SRC    := tier/hash.c tier/path.c tier/config.c tier/index.c tier/stat.c \
               tier/proto.c tier/instance.c
PRELOAD_SRC := $(wildcard preload/*.c)
SHMD_LIB    := shmd/debug.c shmd/opts.c shmd/access.c shmd/store.c shmd/loader.c shmd/revalidate.c shmd/control.c shmd/daemon.c
SHMD_SRC    := shmd/main.c shmd/cli.c shmd/cli_stats.c shmd/cli_warm.c shmd/cli_exec.c $(SHMD_LIB)

SHIM_OBJ := $(patsubst %.c,$(B)/pic/%.o,$(TIER_SRC) $(PRELOAD_SRC))
TIER_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(TIER_SRC))
SHMD_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(SHMD_SRC))

UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
INTEG_TESTS := $(patsubst tests/integration/%.c,$(B)/tests/%,$(wildcard tests/integration/test_*.c))
HELPERS := $(patsubst tests/helpers/%.c,$(B)/tests/helpers/%,$(wildcard tests/helpers/*.c))

all: preload/libshmcache.so shmd/shmd

$(B)/pic/%.o: %.c $(wildcard tier/*.h preload/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) -c $< -o $@

$(B)/obj/%.o: %.c $(wildcard tier/*.h shmd/*.h tests/lib/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -c $< -o $@

# The exported symbols are exactly the hooks of SHIM_REAL_LIST in shim.h.
$(B)/libshmcache.map: preload/real.h
	@mkdir -p $(B)
	{ echo '{'; echo '  global:'; \
	  sed -n 's/^ *X([^,]*, *\([A-Za-z_0-9]*\),.*/    \1;/p' $<; \
	  echo '  local:'; echo '    *;'; echo '};'; } > $@

preload/libshmcache.so: $(SHIM_OBJ) $(B)/libshmcache.map
	$(CC) -shared -o $@ $(SHIM_OBJ) -Wl,-soname,libshmcache.so \
	    -Wl,--version-script=$(B)/libshmcache.map -Wl,-z,relro -Wl,-z,now -ldl $(LDFLAGS)

shmd/shmd: $(SHMD_OBJ) $(TIER_OBJ)
	$(CC) -pthread -o $@ $(SHMD_OBJ) $(TIER_OBJ) -Wl,--export-dynamic-symbol=shmd_daemon_marker $(LDFLAGS)

# ---- tests ----------------------------------------------------------------
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)

# What the tests and the demo need on a fresh Debian 12.
DEPS_MISSING = $(shell test -f /usr/include/cmocka.h || echo libcmocka-dev; \
                       command -v git >/dev/null || echo git; \
                       command -v python3 >/dev/null || echo python3)
deps:
	@if [ -n "$(strip $(DEPS_MISSING))" ]; then \
	  echo "installing $(strip $(DEPS_MISSING))"; \
	  $(SUDO) apt-get install -y $(DEPS_MISSING) >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update >/dev/null && $(SUDO) apt-get install -y $(DEPS_MISSING) >/dev/null; }; \
	fi

TEST_LIB_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/lib/*.c))
UNIT_LIB_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c)))

$(B)/tests/test_%: tests/unit/test_%.c $(TIER_OBJ) $(patsubst %.c,$(B)/obj/%.o,$(SHMD_LIB)) $(B)/obj/preload_config.o $(UNIT_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -o $@ $^ -lcmocka

$(B)/tests/test_%: tests/integration/test_%.c $(TIER_OBJ) $(TEST_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -o $@ $^ -lcmocka

$(B)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -o $@ $<

# the shim's pure config parser, linked into unit tests without the hooks
$(B)/obj/preload_config.o: preload/config.c preload/config.h tier/path.h tier/layout.h
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -c $< -o $@

# `make test` = the suite below, then every stage a fragment in mk/ adds to
# TEST_STAGES (sanitizer builds, fuzzing, ...), each a make target.
test: deps
	$(MAKE) test-core
	@for t in $(TEST_STAGES); do $(MAKE) $$t || exit 1; done

test-core:
	$(MAKE) all $(UNIT_TESTS) $(INTEG_TESTS) $(HELPERS)
	@tests/run.sh $(UNIT_TESTS) $(INTEG_TESTS)

# ---- demo, benchmark --------------------------------------------------------
# The demo's web server: gunicorn when Debian has it (else Python's own).
run: deps all
	@command -v gunicorn >/dev/null || $(SUDO) apt-get install -y gunicorn curl >/dev/null 2>&1 || \
	  echo "gunicorn not installable: the demo uses Python's own WSGI server"
	@bench/run-demo.sh

bench/openread: bench/openread.c
	$(CC) $(BASE) $(CFLAGS) -o $@ $<

bench: all bench/openread
	@bench/bench.sh

# the first pass against raw sshfs by round-trip time, with CPU per process
bench-firstpass: all bench/openread
	@bench/firstpass.sh

bench/hookcost: bench/hookcost.c
	$(CC) $(BASE) $(CFLAGS) -o $@ $<

# instructions per hooked call (callgrind): the hit and pass-through costs
bench-instr: all bench/hookcost
	@bench/instr.sh

# ---- install ----------------------------------------------------------------
MANDIR  ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR  ?= $(PREFIX)/share/doc/shmcache

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 preload/libshmcache.so $(DESTDIR)$(PREFIX)/lib/libshmcache.so
	install -m 0755 shmd/shmd $(DESTDIR)$(PREFIX)/bin/shmd
	install -m 0644 man/shmd.8 $(DESTDIR)$(MANDIR)/man8/shmd.8
	install -m 0644 man/libshmcache.7 $(DESTDIR)$(MANDIR)/man7/libshmcache.7
	sed 's|/usr/local/bin/shmd|$(PREFIX)/bin/shmd|' packaging/shmd@.service \
	    > $(DESTDIR)$(UNITDIR)/shmd@.service
	sed 's|/usr/local/lib/libshmcache.so|$(PREFIX)/lib/libshmcache.so|' \
	    packaging/gunicorn-shmcache.conf > $(DESTDIR)$(DOCDIR)/gunicorn-shmcache.conf
	install -m 0644 packaging/README.md $(DESTDIR)$(DOCDIR)/README.packaging.md

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libshmcache.so $(DESTDIR)$(PREFIX)/bin/shmd \
	    $(DESTDIR)$(MANDIR)/man8/shmd.8 $(DESTDIR)$(MANDIR)/man7/libshmcache.7 \
	    $(DESTDIR)$(UNITDIR)/shmd@.service $(DESTDIR)$(DOCDIR)/gunicorn-shmcache.conf \
	    $(DESTDIR)$(DOCDIR)/README.packaging.md

clean:
	rm -rf $(B) preload/libshmcache.so shmd/shmd bench/openread bench/hookcost

.PHONY: all test test-core deps run bench bench-firstpass bench-instr install uninstall clean

# Fragments: each adds its own targets (and TEST_STAGES entries).
-include $(wildcard mk/*.mk)
