# trawl: one binary, built with pkg-config. See README.md for the two commands.
#   make            build build/trawl
#   make test       build and run the whole test suite (unit, fault injection, crash)
#   make bench      build and run the benchmarks in bench/
#   make fuzz       fuzz the parsers of outside input (tests/fuzz, libFuzzer; FUZZ_SECONDS=15)
#   make fmt        format the tree; make fmt-check fails on any difference
#   make SANITIZE=address,undefined test   the same suite under sanitizers (build-san/)

CC      ?= cc
PKGS    := sqlite3 jansson libcurl libmicrohttpd libzstd libcrypto libxml-2.0 zlib icu-i18n icu-uc libpq \
           yajl
SANITIZE ?=

ifeq ($(SANITIZE),)
BUILD   ?= build
OPT     ?= -O2 -g
else
BUILD   ?= build-san
OPT     ?= -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif

WARN    := -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -fno-common
CFLAGS  += $(OPT) $(WARN) -D_GNU_SOURCE -Isrc -Itests -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS))
LDFLAGS += $(if $(SANITIZE),-fsanitize=$(SANITIZE))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lcsv -lpthread -lm

LIB_SRC := $(sort $(wildcard src/base/*.c src/store/*.c src/engine/*.c src/fetch/*.c \
                             src/parse/*.c src/handlers/*.c src/api/*.c src/cli/*.c \
                             src/obs/*.c src/alert/*.c))
MIGRATIONS := $(sort $(wildcard src/store/migrations/*.sql))
UI_FILES := web/index.html web/app.css web/app.js web/chain.js web/schedules.js web/imports.js
PG_MIGRATIONS := $(sort $(wildcard src/store/pg_migrations/*.sql))
GEN_SRC := $(BUILD)/gen/migrations.c $(BUILD)/gen/pg_migrations.c $(BUILD)/gen/ui.c
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o $(BUILD)/gen/pg_migrations.o \
           $(BUILD)/gen/ui.o
UNIT_SRC := $(sort $(wildcard tests/unit/*.c)) tests/common/testdb.c
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
E2E_SRC := $(sort $(wildcard tests/e2e/test_*.c)) tests/e2e/e2eutil.c tests/e2e/scrapeutil.c \
           tests/common/testdb.c
E2E_OBJ := $(E2E_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_UTIL := $(BUILD)/bench/util/benchutil.o $(BUILD)/bench/util/feedgen.o
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all tests test bench fuzz fmt fmt-check clean
all: $(BUILD)/trawl

$(BUILD)/gen/migrations.c: $(MIGRATIONS) scripts/embed-sql.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-sql.sh $@ store_migrations $(MIGRATIONS)

$(BUILD)/gen/pg_migrations.c: $(PG_MIGRATIONS) scripts/embed-sql.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-sql.sh $@ store_pg_migrations $(PG_MIGRATIONS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/pg_migrations.o: $(BUILD)/gen/pg_migrations.c
	$(CC) $(CFLAGS) -c $< -o $@

# the dashboard, embedded in the binary
$(BUILD)/gen/ui.c: $(UI_FILES) scripts/embed-ui.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-ui.sh $@ $(UI_FILES)

$(BUILD)/gen/ui.o: $(BUILD)/gen/ui.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libtrawl.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/trawl: $(BUILD)/src/main.o $(BUILD)/libtrawl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit_tests: $(UNIT_OBJ) $(BUILD)/libtrawl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs criterion)

$(BUILD)/tests/crash_test: $(BUILD)/tests/crash/crash.o $(BUILD)/libtrawl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# several trawl serve nodes on one PostgreSQL, one of them killed
$(BUILD)/tests/multinode_test: $(BUILD)/tests/multinode/multinode.o $(BUILD)/libtrawl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# end-to-end tests: the real trawl serve driven over HTTP, against origin servers that misbehave
$(BUILD)/tests/e2e_tests: $(E2E_OBJ) $(BUILD)/libtrawl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs criterion)

# the misbehaving origin server the e2e tests and benchmarks fetch from
$(BUILD)/tests/origin: $(BUILD)/tests/e2e/origin.o $(BUILD)/tests/e2e/testsrv.o $(BUILD)/libtrawl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the Sentry and alert-webhook receiver the alert tests deliver to
$(BUILD)/tests/sentryrx: $(BUILD)/tests/e2e/sentryrx.o $(BUILD)/tests/e2e/testsrv.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the Standard Webhooks receiver the feed-import tests and benchmarks deliver products to
$(BUILD)/tests/hookrx: $(BUILD)/tests/e2e/hookrx.o $(BUILD)/tests/e2e/testsrv.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the generated shop the scraping-session tests and benchmarks crawl
$(BUILD)/tests/shop: $(BUILD)/tests/e2e/shop.o $(BUILD)/tests/e2e/testsrv.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BENCH_UTIL) $(BUILD)/libtrawl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# everything the suite runs, built but not run
tests: $(BUILD)/trawl $(BUILD)/tests/unit_tests $(BUILD)/tests/crash_test \
       $(BUILD)/tests/multinode_test \
       $(BUILD)/tests/e2e_tests $(BUILD)/tests/origin $(BUILD)/tests/shop \
       $(BUILD)/tests/sentryrx $(BUILD)/tests/hookrx

test: tests
	sh scripts/run-tests.sh $(BUILD)

# every parser of outside input under libFuzzer (clang), FUZZ_SECONDS each
fuzz:
	sh scripts/run-fuzz.sh build-fuzz

bench: $(BUILD)/trawl $(BUILD)/tests/shop $(BUILD)/tests/hookrx $(BENCH_BIN)
	sh scripts/install-deps.sh --bench
	sh scripts/run-bench.sh $(BUILD)

FMT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find src tests bench -name '*.[ch]')
fmt:
	clang-format -i $(FMT_FILES)
fmt-check:
	clang-format --dry-run --Werror $(FMT_FILES)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
