# zcrawl — top-level build.  `make` builds bin/, `make test` runs the suite.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := libzmq libcurl libcjson hiredis libmongoc-1.0 libbson-1.0 libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# snprintf cuts deliberately; -Wformat-truncation would flag every bounded path copy.
WARN    := -std=c11 -Wall -Wextra -Werror -Wno-format-truncation -D_GNU_SOURCE
OPT     ?= -O2 -g
SAN     ?=
BUILD   ?= build
BIN     ?= bin
CFLAGS_ALL := $(WARN) $(OPT) $(SAN) -Ilib $(PKG_CFLAGS) $(CFLAGS)
# --as-needed: an executable loads only the libraries it uses (libmongoc's load-time
# initialisation, for one, stays in the writer).
LDLIBS_ALL := -Wl,--as-needed $(PKG_LIBS) -lpthread -lm $(LDLIBS)

STAGES  := broker fetcher parser writer sitesim
LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBA    := $(BUILD)/libzcrawl.a
EXES    := $(STAGES:%=$(BIN)/zcrawl-%) $(BIN)/zcrawl
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Stage modules other than main.c are linked into unit tests too.
MOD_OBJ := $(foreach s,$(STAGES) cli,$(filter-out $(BUILD)/$(s)/main.o,$(patsubst %.c,$(BUILD)/%.o,$(wildcard $(s)/*.c))))

# The benchmark's floors (bench/curl_floor.c, bench/part_costs.c): built with
# everything, so they never rot, but never installed.
BENCH_TOOLS := $(BUILD)/bench/curl_floor $(BUILD)/bench/part_costs

ARGS ?=
.PHONY: all demo deps asan test test-unit test-integration test-asan fuzz bench test-docker install clean valgrind
all: $(EXES) $(UNIT_BIN) $(BENCH_TOOLS)

deps:
	@scripts/deps.sh

$(BUILD)/%.o: %.c | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -I$(dir $<) -c -o $@ $<

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

$(BUILD):
	@mkdir -p $(BUILD)

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# One rule set per executable: every .c in its folder, plus the shared library.
define EXE_RULES
$(1)_OBJ := $$(patsubst %.c,$$(BUILD)/%.o,$$(wildcard $(1)/*.c))
$(2): $$($(1)_OBJ) $$(LIBA)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_ALL) -o $$@ $$^ $$(LDLIBS_ALL)
endef
$(foreach s,$(STAGES),$(eval $(call EXE_RULES,$(s),$(BIN)/zcrawl-$(s))))
$(eval $(call EXE_RULES,cli,$(BIN)/zcrawl))

$(BUILD)/tests/test_%: tests/unit/test_%.c $(MOD_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Ibroker -Ifetcher -Iparser -Iwriter -Isitesim -Icli -o $@ $^ $(LDLIBS_ALL) -lcmocka

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LDLIBS_ALL)

# Sanitizer build: its own object and binary folders, so it never mixes with bin/.
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all

# The README's run command: a whole crawl of the bundled emulator into zcrawl-demo.jsonl.
demo: deps all
	bin/zcrawl demo $(ARGS)

test: deps all
	@scripts/run-tests.sh

test-unit: all
	@scripts/run-tests.sh unit

test-integration: all
	@scripts/run-tests.sh integration

test-asan: deps asan
	@ZCRAWL_BIN=build/asan/bin scripts/run-tests.sh asan

fuzz:
	@scripts/fuzz.sh $${FUZZ_SECONDS:-30}

bench: deps all
	@scripts/bench.sh

test-docker: deps all
	@scripts/test-docker.sh

valgrind: all
	@scripts/valgrind.sh $${VALGRIND_BOOKS:-300}

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(EXES) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build bin
