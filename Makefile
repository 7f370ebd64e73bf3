# smilla - mutual DANE for mail servers.
#
#   make            build libsmilla.a and smillactl into build/
#   make check      install Debian deps, build with ASan/UBSan, run all tests
#   make demo       show smillactl against a local DNSSEC test bed
#   make bench      benchmarks (bench/)
#   make install    PREFIX=/usr/local DESTDIR=
#
# Plain GNU make; libraries come from pkg-config.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
PKGS = libunbound openssl sqlite3 libidn2 librnp
MILTER_LIBS = -lmilter
WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer \
      -fno-sanitize-recover=all

# Build directory and extra flags; "make check" builds a second tree
# with the sanitizers (B=build/asan EXTRA="$(SAN)").
B ?= build
EXTRA ?=

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(EXTRA) \
	     $(PKG_CFLAGS) -Isrc -Ipolicy -Ismilla
LDLIBS = $(PKG_LIBS) -lpthread

LIB_MODS = util words log config names addr rr dns db cache cert dane pgp table \
	   reputation smime priv
LIB_OBJS = $(LIB_MODS:%=$(B)/src/%.o)
HDRS = $(wildcard src/*.h) $(wildcard policy/*.h) $(wildcard smilla/*.h) \
       $(wildcard tests/unit/*.h)
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:%.c=$(B)/%)
POL_MODS = main server request decide
POL_OBJS = $(POL_MODS:%=$(B)/policy/%.o)
# The milter: libmilter callbacks (smilla/main.c) over modules that
# know nothing of libmilter, so unit tests can link them.
MIL_MODS = spool mime resolver recipient session
MIL_OBJS = $(MIL_MODS:%=$(B)/milter/%.o)
PROGS = $(B)/smillactl $(B)/smilla-policyd $(B)/smilla

.PHONY: all check check-build demo bench install clean deps unit fuzz
.SUFFIXES:
.SECONDARY:

all: $(PROGS)

$(B)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The milter's objects go to milter/: $(B)/smilla is the program.
$(B)/milter/%.o: smilla/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libsmilla.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/smillactl: $(B)/src/smillactl.o $(B)/libsmilla.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/smilla-policyd: $(POL_OBJS) $(B)/libsmilla.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/smilla: $(B)/milter/main.o $(MIL_OBJS) $(B)/libsmilla.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(MILTER_LIBS) $(LDLIBS)

# Unit tests of the milter's modules (test_mil_*) link them.
$(B)/tests/unit/test_mil_%: $(B)/tests/unit/test_mil_%.o $(MIL_OBJS) \
		$(B)/libsmilla.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests of the policy daemon's modules link them too.
$(B)/tests/unit/test_pol_%: $(B)/tests/unit/test_pol_%.o \
		$(B)/policy/request.o $(B)/policy/decide.o $(B)/libsmilla.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/unit/%: $(B)/tests/unit/%.o $(B)/libsmilla.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

unit: $(UNIT_BINS)

# libFuzzer targets (tests/fuzz/), built with clang: the parsers that
# read what the network and DNS send (policy requests, RDATA, MIME),
# with the modules they need.
FUZZ_CC ?= clang
FUZZ_FLAGS = -g -O1 -std=c11 -D_GNU_SOURCE $(WARN) \
	     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	     -Isrc -Ipolicy $(shell pkg-config --cflags openssl)
FUZZ_LIBS = $(shell pkg-config --libs openssl)
FUZZ_BINS = build/fuzz/fuzz_request build/fuzz/fuzz_rdata build/fuzz/fuzz_mime

build/fuzz/fuzz_request: tests/fuzz/fuzz_request.c policy/request.c src/util.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS)

build/fuzz/fuzz_rdata: tests/fuzz/fuzz_rdata.c src/dane.c src/rr.c src/util.c src/cert.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS)

# The MIME target also runs the verifiers behind "already encrypted":
# CMS (smime.c, OpenSSL) and OpenPGP packets (pgp.c, librnp).
build/fuzz/fuzz_mime: tests/fuzz/fuzz_mime.c smilla/mime.c src/smime.c \
		src/pgp.c src/util.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Ismilla $(shell pkg-config --cflags librnp) \
		-o $@ $(filter %.c,$^) $(FUZZ_LIBS) \
		$(shell pkg-config --libs librnp) -lpthread

# The RCPT path parser (libidn2 for the domain).
FUZZ_BINS += build/fuzz/fuzz_addr
build/fuzz/fuzz_addr: tests/fuzz/fuzz_addr.c src/addr.c src/names.c src/util.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS) \
		$(shell pkg-config --libs libidn2)

fuzz: $(FUZZ_BINS)

deps:
	./scripts/deps.sh

# Two trees: sanitizers for the tests, plain for valgrind (the two
# cannot share a binary).
check-build:
	$(MAKE) B=build/asan EXTRA="$(SAN)" all unit
	$(MAKE) B=build all unit fuzz

check: deps
	$(MAKE) check-build
	./tests/check.sh

demo: deps
	$(MAKE) all
	./scripts/demo.sh

BENCH_BINS = $(B)/bench/loadgen $(B)/bench/null-policy \
	     $(B)/bench/milter-load $(B)/bench/null-milter

$(B)/bench/null-milter: bench/null-milter.c bench/benchutil.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(EXTRA) -o $@ $< \
		$(MILTER_LIBS) -lpthread

$(B)/bench/%: bench/%.c bench/benchutil.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(EXTRA) -o $@ $< -lpthread

bench: deps
	$(MAKE) all $(BENCH_BINS)
	SMILLA_BUILD=$(CURDIR)/$(B) ./bench/policy-bench.sh
	SMILLA_BUILD=$(CURDIR)/$(B) ./bench/milter-bench.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -d $(DESTDIR)$(SBINDIR)
	install -m 755 $(B)/smillactl $(DESTDIR)$(BINDIR)/smillactl
	install -m 755 $(B)/smilla-policyd $(DESTDIR)$(SBINDIR)/smilla-policyd
	install -m 755 $(B)/smilla $(DESTDIR)$(SBINDIR)/smilla
	install -m 644 docs/smillactl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 docs/smilla.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 docs/smilla-policyd.8 docs/smilla.8 \
		$(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(SYSCONFDIR)/smilla
	install -m 644 contrib/smilla.conf \
		$(DESTDIR)$(SYSCONFDIR)/smilla/smilla.conf.example

clean:
	rm -rf build
