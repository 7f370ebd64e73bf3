# smilla - mutual DANE for mail servers.
#
#   make            build libsmilla.a and smillactl into build/
#   make check      install Debian deps, build with ASan/UBSan, run all tests
#   make demo       show smillactl against a local DNSSEC test bed
#   make bench      benchmarks (bench/)
#   make soak       the soak test: SOAK_MESSAGES (10000) through Postfix
#                   with both daemons (tests/soak/soak.sh; not in check)
#   make fuzz       libFuzzer targets (tests/fuzz/) into $(B)/fuzz, or FUZZ_B
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
# Each object's header dependencies, written by the compiler beside it
# (-MMD: the headers it includes; -MP: a rule per header so a removed
# header does not stop the build).  An object without its .d (built by
# an older Makefile) is rebuilt: the empty rule for the .d files makes a missing
# one count as changed.
DEPFLAGS = -MMD -MP
LDLIBS = $(PKG_LIBS) -lpthread

LIB_MODS = util words log config names addr rr dns db cache cert dane pgp table \
	   reputation smime smimea priv metrics
LIB_OBJS = $(LIB_MODS:%=$(B)/src/%.o)
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:%.c=$(B)/%)
POL_MODS = main server accept conn cycle flight mcache counters request decide
POL_OBJS = $(POL_MODS:%=$(B)/policy/%.o)
# The milter: libmilter callbacks (smilla/main.c) over modules that
# know nothing of libmilter, so unit tests can link them.
MIL_MODS = spool mime signed legacy protect resolver recipient verify session \
	   clientauth trace reinject counters
# Client authentication under Sendmail decides with the policy daemon's
# code (clientauth.c over decide.c).
MIL_OBJS = $(MIL_MODS:%=$(B)/milter/%.o) $(B)/policy/decide.o
PROGS = $(B)/smillactl $(B)/smilla-policyd $(B)/smilla

.PHONY: all check check-build demo bench soak install clean deps unit fuzz
.SUFFIXES:

all: $(PROGS)

$(B)/%.o: %.c $(B)/%.d
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

# The milter's objects go to milter/: $(B)/smilla is the program.
$(B)/milter/%.o: smilla/%.c $(B)/milter/%.d
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(B)/libsmilla.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

# smillactl and the modules of its commands: the report (the store
# gathered, then written as text, JSON or HTML), selfcheck, metrics.
CTL_OBJS = $(B)/src/smillactl.o $(B)/src/ctl_report.o \
	   $(B)/src/ctl_report_text.o $(B)/src/ctl_report_html.o \
	   $(B)/src/ctl_selfcheck.o $(B)/src/ctl_metrics.o

$(B)/smillactl: $(CTL_OBJS) $(B)/libsmilla.a
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

unit: $(UNIT_BINS) $(B)/tests/lib/repfill

# Writes reputation rows for the report's tests.
$(B)/tests/lib/repfill: $(B)/tests/lib/repfill.o $(B)/libsmilla.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer targets, built with clang: the parsers that read what the
# network and DNS send, with the modules they need.  A target is
# tests/fuzz/fuzz_NAME.c plus one line here naming its modules (and, if
# it needs more than OpenSSL, its libraries); tests/fuzz/fuzz.t runs
# every tests/fuzz/fuzz_*.c that was built into $(FUZZ_B).
FUZZ_B ?= $(B)/fuzz
FUZZ_CC ?= clang
FUZZ_PKGS = openssl librnp libidn2
FUZZ_FLAGS = -g -O1 -std=c11 -D_GNU_SOURCE $(WARN) \
	     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	     -Isrc -Ipolicy -Ismilla $(shell pkg-config --cflags $(FUZZ_PKGS))
FUZZ_LIBS = $(shell pkg-config --libs openssl)

# Policy requests.
fuzz_request_SRCS = policy/request.c src/util.c
# TLSA RDATA with fingerprint matching.
fuzz_rdata_SRCS = src/dane.c src/rr.c src/util.c src/cert.c
# MIME sniffing, with the verifiers behind "already encrypted": CMS
# (smime.c, OpenSSL) and OpenPGP packets (pgp.c, librnp).
fuzz_mime_SRCS = smilla/mime.c src/smime.c src/pgp.c src/util.c src/words.c
fuzz_mime_LIBS = $(shell pkg-config --libs librnp) -lpthread
# Signed mail: the splitter that finds the signed octets and the
# signature (signed.c over mime.c's multipart parser).
fuzz_signed_SRCS = smilla/signed.c smilla/mime.c src/smime.c src/pgp.c \
		   src/util.c src/words.c
fuzz_signed_LIBS = $(shell pkg-config --libs librnp) -lpthread
# OPENPGPKEY RDATA: librnp's import, our key checks, and encryption to
# what they accept.
fuzz_openpgpkey_SRCS = src/pgp.c src/util.c src/words.c
fuzz_openpgpkey_LIBS = $(shell pkg-config --libs librnp) -lpthread
# RCPT TO paths (libidn2 for the domain).
fuzz_addr_SRCS = src/addr.c src/names.c src/util.c
fuzz_addr_LIBS = $(shell pkg-config --libs libidn2)
# Header protection: the payload protect.c makes of any header and
# body (mime.c for Content-Type, and what it links).
fuzz_protect_SRCS = smilla/protect.c smilla/legacy.c smilla/spool.c smilla/mime.c \
		    src/smime.c src/pgp.c src/util.c src/words.c
fuzz_protect_LIBS = $(shell pkg-config --libs librnp) -lpthread

# The configuration file and the tables.
fuzz_config_SRCS = src/config.c src/table.c src/addr.c src/names.c src/log.c \
		   src/util.c src/words.c
fuzz_config_LIBS = $(shell pkg-config --libs libidn2)
# The option table leaves .sockets to its default, which clang's
# -Wextra calls a missing initializer (gcc does not).
$(FUZZ_B)/obj/src/config.o: FUZZ_FLAGS += -Wno-missing-field-initializers
# Signatures: CMS SignedData and OpenPGP, parsed and checked.
fuzz_sig_SRCS = src/smime.c src/pgp.c src/util.c src/words.c
fuzz_sig_LIBS = $(shell pkg-config --libs librnp) -lpthread
# The split copies' trace header: its check and the body digest.
fuzz_trace_SRCS = smilla/trace.c src/util.c
FUZZ_TARGETS = $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_B)/%)

# Objects with the fuzzer's instrumentation: a tree of their own.
# clang writes the .d after the object: touch the object, or it would
# look older than its .d and be rebuilt every time.
$(FUZZ_B)/obj/%.o: %.c $(FUZZ_B)/obj/%.d
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(DEPFLAGS) -c -o $@ $<
	@touch $@

# $(FUZZ_B)/fuzz_NAME: its own .c and $(fuzz_NAME_SRCS).
define fuzz_target
$$(FUZZ_B)/$(1): $$(patsubst %.c,$$(FUZZ_B)/obj/%.o,tests/fuzz/$(1).c $$($(1)_SRCS))
	$$(FUZZ_CC) $$(FUZZ_FLAGS) -o $$@ $$^ $$(FUZZ_LIBS) $$($(1)_LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_target,$(t))))

fuzz: $(FUZZ_BINS)

# The header dependencies of every object built before (none yet: it
# is built anyway).
FUZZ_OBJS = $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(sort \
	    $(foreach t,$(FUZZ_TARGETS),tests/fuzz/$(t).c $($(t)_SRCS))))
# (decide.o is in both daemons' lists: sort drops the twin.)
ALL_OBJS = $(sort $(LIB_OBJS) $(POL_OBJS) $(MIL_OBJS) $(B)/milter/main.o \
	   $(CTL_OBJS) $(B)/tests/lib/repfill.o $(UNIT_BINS:%=%.o) \
	   $(FUZZ_OBJS))
-include $(wildcard $(ALL_OBJS:.o=.d))
$(ALL_OBJS:.o=.d): ;
# Keep the objects make sees only as steps to a program (the unit
# tests'), without making every file secondary: a missing secondary .d
# would not count as changed.
.SECONDARY: $(ALL_OBJS)

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

# The soak test's SMTP client: STARTTLS with client certificates.
$(B)/bench/soak-client: bench/soak-client.c bench/benchutil.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(EXTRA) -o $@ $< \
		$(shell pkg-config --libs openssl) -lpthread

# The daemons and the client of the plain build (SOAK_BUILD=build/asan
# after check-build: the sanitizer build's daemons), the test bed and
# Postfix as tests/check.sh sets them up.
soak: deps
	$(MAKE) B=build all build/bench/soak-client
	./tests/check.sh -v tests/soak/soak.sh

bench: deps
	$(MAKE) all $(BENCH_BINS)
	SMILLA_BUILD=$(CURDIR)/$(B) ./bench/policy-bench.sh
	SMILLA_BUILD=$(CURDIR)/$(B) ./bench/milter-bench.sh
	SMILLA_BUILD=$(CURDIR)/$(B) ./bench/slowloris-bench.sh
	SMILLA_BUILD=$(CURDIR)/$(B) ./bench/mta-bench.sh

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
