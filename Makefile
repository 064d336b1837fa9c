# shmcache - build, test, install. `make`, `make test`, `make run`,
# `make bench`, `make install PREFIX=/usr/local`. Local overrides go in
# config.mak (CC, CPPFLAGS, CFLAGS, LDFLAGS, PREFIX, ...).
-include config.mak

CC      ?= cc
PREFIX  ?= /usr/local
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# -fno-strict-aliasing: the seqlock copies (tier/index.c, shmd/store.c,
# preload/stat.c) move records, structs with 32-bit fields, as 64-bit words
BASE    := -std=gnu11 -I. -D_GNU_SOURCE -fno-strict-aliasing $(WARN)
DEPFLAGS := -MMD -MP
# -U_FORTIFY_SOURCE (after the caller's flags, which may define it, as a
# distribution's build flags or Ubuntu's gcc do): the shim defines open,
# openat and the __open_2 family itself; fortified, its own calls to them
# would be rewritten to __open_2 and friends and land in its own hooks.
# (No -fno-stack-protector: the hooks never run before ld.so has set up
# TLS and the stack guard, so a build that asks for canaries gets them in
# the shim too; Debian's gcc emits none unless asked.)
SHIM_CFLAGS := $(BASE) $(CPPFLAGS) $(CFLAGS) -U_FORTIFY_SOURCE -fPIC -fvisibility=hidden
PROG_CFLAGS := $(BASE) $(CPPFLAGS) $(CFLAGS) -pthread
# unit tests and fuzzers: the daemon's internal checks at their most
# thorough, store_validate() at every store_unlock (shmd/debug.h)
DBG_CFLAGS  := $(PROG_CFLAGS) -DSHMCACHE_DEBUG=2

# The header the exported symbols are read from (SHIM_REAL_LIST).
SHIM_SYMS_HDR := preload/real.h

# The shim mirrors kernel ABI details per architecture (preload/: flag
# values, the struct stat behind __fxstat), written for these two only.
ARCHS   := x86_64 aarch64
ARCH    := $(shell $(CC) $(CPPFLAGS) $(CFLAGS) -dM -E -x c /dev/null 2>/dev/null | \
             sed -n 's/^.define __\(x86_64\|aarch64\)__ 1$$/\1/p')
ifneq ($(MAKECMDGOALS),clean)
ifeq ($(filter $(ARCHS),$(ARCH)),)
$(error shmcache builds for x86_64 and aarch64 only, whose kernel constants the shim (preload/) is written for; "$(CC) $(CFLAGS)" targets another architecture)
endif
endif

B := build

TIER_SRC      := $(wildcard tier/*.c)
# the part of the tier the shim links: not the parsers of what shims send
# (tier/proto.c), which only shmd reads
TIER_SHIM_SRC := tier/hash.c tier/path.c tier/config.c tier/index.c tier/stat.c tier/instance.c \
                 tier/listing.c tier/ring.c
PRELOAD_SRC   := $(wildcard preload/*.c)
SHMD_SRC      := $(wildcard shmd/*.c)
# the daemon without its command line (main.c, cli*.c): what fuzzers drive
SHMD_LIB      := $(filter-out shmd/main.c shmd/cli%,$(SHMD_SRC))

SHIM_OBJ := $(patsubst %.c,$(B)/pic/%.o,$(TIER_SHIM_SRC) $(PRELOAD_SRC))
TIER_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(TIER_SRC))
SHMD_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(SHMD_SRC))

UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
INTEG_TESTS := $(patsubst tests/integration/%.c,$(B)/tests/%,$(wildcard tests/integration/test_*.c))
HELPERS := $(patsubst tests/helpers/%.c,$(B)/tests/helpers/%,$(wildcard tests/helpers/*.c))

all: preload/libshmcache.so shmd/shmd

# Objects: pic/ for the shim, obj/ for shmd and the integration tests,
# dbg/ for the unit tests (DBG_CFLAGS: struct store differs, so never mix).
$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/dbg/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(DBG_CFLAGS) $(DEPFLAGS) -c $< -o $@

# The exported symbols are exactly the hooks of SHIM_REAL_LIST.
$(B)/libshmcache.map: $(SHIM_SYMS_HDR)
	@mkdir -p $(B)
	{ echo '{'; echo '  global:'; \
	  sed -n 's/^ *X([^,]*, *\([A-Za-z_0-9]*\),.*/    \1;/p' $<; \
	  echo '  local:'; echo '    *;'; echo '};'; } > $@

# -z defs: a tier function the shim calls but TIER_SHIM_SRC lacks is a
# link error here, not a lookup failure in some program at run time.
SHIM_LINK = $(CC) -shared -o $@ $(SHIM_OBJ) -Wl,-soname,libshmcache.so -Wl,-z,defs \
            -Wl,--version-script=$(B)/libshmcache.map -Wl,-z,relro -Wl,-z,now -ldl $(LDFLAGS)
# The fleet tier (shmd/fleet.c): libmemcached (the maintained fork Debian
# ships: server lists, ketama, failover) and libsodium (the MAC).
FLEET_LIBS := -lmemcached -lsodium
SHMD_LINK = $(CC) -pthread -o $@ $(SHMD_OBJ) $(TIER_OBJ) \
            -Wl,--export-dynamic-symbol=shmd_daemon_marker $(FLEET_LIBS) $(LDFLAGS)

preload/libshmcache.so: $(SHIM_OBJ) $(B)/libshmcache.map
	$(SHIM_LINK)

shmd/shmd: $(SHMD_OBJ) $(TIER_OBJ)
	$(SHMD_LINK)

# `shmd --version`: VERSION, and in a git checkout the commit it was built
# from (git describe). Rewritten only when it changes, so a rebuild with
# nothing new relinks nothing.
VERSION_STR = $(shell cat VERSION)$(shell git describe --always --dirty 2>/dev/null | sed 's/^/ (git /; s/$$/)/')
$(B)/version.h: FORCE
	@mkdir -p $(B)
	@echo '#define SHMCACHE_VERSION "$(VERSION_STR)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(B)/obj/shmd/main.o: $(B)/version.h
$(B)/obj/shmd/main.o: PROG_CFLAGS += -I$(B)
FORCE:
.PHONY: FORCE

# ---- tests ----------------------------------------------------------------
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)

# What the tests and the demo need on a fresh Debian 12.
DEPS_MISSING = $(shell test -f /usr/include/cmocka.h || echo libcmocka-dev; \
                       command -v git >/dev/null || echo git; \
                       command -v python3 >/dev/null || echo python3; \
                       command -v mandoc >/dev/null || echo mandoc; \
                       command -v node >/dev/null || echo nodejs; \
                       command -v php >/dev/null || echo php-cli; \
                       test -f /usr/include/libmemcached/memcached.h || echo libmemcached-dev; \
                       test -f /usr/include/sodium.h || echo libsodium-dev; \
                       command -v memcached >/dev/null || echo memcached)
# (no service of these packages is started on install: the tests start
# their own memcached, on a unix socket)
deps:
	@if [ -n "$(strip $(DEPS_MISSING))" ]; then \
	  echo "installing $(strip $(DEPS_MISSING))"; \
	  policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null && \
	    $(SUDO) chmod 755 /usr/sbin/policy-rc.d && policy=1; fi; \
	  $(SUDO) apt-get install -y $(DEPS_MISSING) >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update >/dev/null && $(SUDO) apt-get install -y $(DEPS_MISSING) >/dev/null; }; \
	  rc=$$?; [ -z "$$policy" ] || $(SUDO) rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	fi

# What each unit test links besides itself: the code it tests (built into
# dbg/, with the debug checks) and what that needs.
STORE_OBJS := shmd/store.o shmd/debug.o shmd/snapshot.o shmd/fdio.o shmd/log.o tier/index.o tier/hash.o tier/path.o \
              tier/listing.o tier/ring.o
TEST_OBJS_test_access := shmd/access.o
# (test_config: preload/config.c is the shim's pure environment parser,
# linked without the hooks)
TEST_OBJS_test_config := shmd/opts.o shmd/units.o shmd/log.o tier/config.o tier/path.o \
                         preload/config.o
TEST_OBJS_test_evict  := $(STORE_OBJS) tests/unit/fixture.o
TEST_OBJS_test_index  := $(STORE_OBJS) tests/unit/fixture.o
TEST_OBJS_test_marks  := $(STORE_OBJS) shmd/marks.o tests/unit/fixture.o
TEST_OBJS_test_snapshot := shmd/snapshot.o shmd/fdio.o tier/index.o tier/hash.o tier/path.o tier/listing.o
TEST_OBJS_test_ring   := tier/ring.o tier/hash.o
TEST_OBJS_test_layout :=
TEST_OBJS_test_path   := tier/path.o
TEST_OBJS_test_proto  := tier/proto.o tier/hash.o tier/path.o
# The integration tests run the real programs: they link the tier (release
# objects, as the daemon is built) and the harness, and some a piece more.
TEST_LIB_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/lib/*.c))
TEST_OBJS_test_pressure := shmd/store.o shmd/debug.o shmd/snapshot.o shmd/fdio.o shmd/log.o
# test_fleet writes forged and truncated values into memcached itself
TEST_LIBS_test_fleet := -lmemcached -lsodium

.SECONDEXPANSION:
$(UNIT_TESTS): $(B)/tests/%: $(B)/dbg/tests/unit/%.o $$(addprefix $(B)/dbg/,$$(TEST_OBJS_$$*))
	@mkdir -p $(dir $@)
	$(CC) $(DBG_CFLAGS) -o $@ $^ -lcmocka $(LDFLAGS)

$(INTEG_TESTS): $(B)/tests/%: $(B)/obj/tests/integration/%.o $(TIER_OBJ) $(TEST_LIB_OBJ) \
                $$(addprefix $(B)/obj/,$$(TEST_OBJS_$$*))
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -o $@ $^ -lcmocka $(TEST_LIBS_$*) $(LDFLAGS)

$(B)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(DEPFLAGS) -o $@ $< $(LDFLAGS)

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
	$(CC) $(BASE) $(CPPFLAGS) $(CFLAGS) -o $@ $<

bench: all bench/openread
	@bench/bench.sh
	@bench/fleet.sh

# the fleet tier alone: 4 simulated hosts over sshfs at 2 and 20 ms
bench-fleet: all
	@bench/fleet.sh

# the first pass against raw sshfs by round-trip time, with CPU per process
bench-firstpass: all bench/openread
	@bench/firstpass.sh

# application start-up (node, Django, phpunit) from sshfs: tmpfs, raw, shim
bench-startup: all bench/hookcost
	@bench/startup.sh

bench/hookcost: bench/hookcost.c
	$(CC) $(BASE) $(CPPFLAGS) $(CFLAGS) -o $@ $<

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

.PHONY: all test test-core deps run bench bench-fleet bench-firstpass bench-startup bench-instr install uninstall clean

# Header dependencies, written by -MMD next to each object.
-include $(wildcard $(B)/*/*/*.d $(B)/*/*/*/*.d $(B)/tests/helpers/*.d)

# Fragments: each adds its own targets (and TEST_STAGES entries).
-include $(wildcard mk/*.mk)
