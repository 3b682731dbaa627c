# PacketTracer build. One library of every src/ module, one binary, one
# criterion test binary; variants in their own build directories:
#   make            build/release/packettracer (jemalloc)
#   make test       criterion suite
#   make asan       suite under ASan+UBSan (libc malloc)
#   make tsan       concurrent flow/pipeline tests under TSan
#   make fuzz       libFuzzer decoder targets, time-boxed (FUZZ_SECONDS)
#   make bench      bench/offline, bench/agg, bench/ring (make bench-agg, make bench-ring:
#                   one of them)
#   make format-check

BUILD       ?= release
O           := build/$(BUILD)
CC          ?= gcc
PKGS        := libpcap liburcu-qsbr liburcu-cds libcrypto yaml-0.1 libnl-3.0 libnl-route-3.0 lmdb \
               libmaxminddb
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CRIT_LIBS   := $(shell pkg-config --libs criterion 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
CFLAGS  := -std=c11 -D_GNU_SOURCE -g $(WARN) -Iinclude $(PKG_CFLAGS) -MMD -MP
LDLIBS  := $(PKG_LIBS) -lpthread -lm
MALLOC  := -ljemalloc

ifeq ($(BUILD),release)
CFLAGS  += -O2
else ifeq ($(BUILD),asan)
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_ENV := LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp UBSAN_OPTIONS=print_stacktrace=1
CFLAGS  += -O1 $(SAN)
LDFLAGS += $(SAN)
MALLOC  :=
else ifeq ($(BUILD),tsan)
CFLAGS  += -O1 -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
MALLOC  :=
else
$(error unknown BUILD=$(BUILD): release, asan or tsan)
endif

LIB_SRC  := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(O)/%.o)
MAIN_OBJ := $(O)/src/cli/main.o
TEST_SRC := $(wildcard tests/*/test_*.c)
TEST_SUP := $(wildcard tests/support/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(O)/%.o) $(TEST_SUP:%.c=$(O)/%.o)
BIN      := $(O)/packettracer
TESTBIN  := $(O)/test-all

# Tests run from the checkout; shared/ sits beside it.
TESTDATA ?= $(abspath ../shared/testdata)
CRITERION_JOBS ?= 2
TEST_ARGS ?=

.PHONY: all test asan tsan fuzz bench demo format format-check clean expected
all: $(BIN)

$(O)/libpt.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	@rm -f $@ # ar keeps members whose source file is gone
	$(AR) rcs $@ $^

$(BIN): $(MAIN_OBJ) $(O)/libpt.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MALLOC)

$(TESTBIN): $(TEST_OBJ) $(O)/libpt.a $(BIN)
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(O)/libpt.a $(LDLIBS) $(CRIT_LIBS) $(MALLOC)

$(O)/tests/%.o: CFLAGS += -Wno-missing-prototypes -Itests
$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

test: $(TESTBIN)
	$(SAN_ENV) PT_TESTDATA=$(TESTDATA) PT_BIN=$(abspath $(BIN)) PT_SRCDIR=$(CURDIR) \
	  $(TESTBIN) --jobs $(CRITERION_JOBS) $(TEST_ARGS)

asan:
	$(MAKE) BUILD=asan test

# TSan: the suites that run several threads against one flow table,
# pipeline or pcap ring ('*concurrent*'). Criterion cannot start under TSan (upstream
# Snaipe/Criterion#274), so the same sources build against the shim in
# tests/tsan/ and run as one plain program.
TSAN_SRC = $(shell grep -lE '^Test.[a-z_]*concurrent,' tests/*/test_*.c) tests/support/support.c tests/support/pcapgen.c tests/support/netns.c \
	   tests/tsan/shim_main.c
TSAN_BIN := build/tsan/tsan-tests
tsan:
	$(MAKE) BUILD=tsan build/tsan/libpt.a
	$(CC) -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=thread -fno-omit-frame-pointer $(WARN) \
	  -Wno-missing-prototypes -Wno-format-zero-length -Iinclude -Itests/tsan -Itests $(TSAN_SRC) build/tsan/libpt.a \
	  $(LDLIBS) -o $(TSAN_BIN)
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1" \
	  PT_TESTDATA=$(TESTDATA) PT_SRCDIR=$(CURDIR) $(TSAN_BIN)

FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_LIBSRC := $(wildcard src/decode/*.c src/common/*.c src/enrich/*.c) src/capture/reader.c \
	       src/flow/tcp_health.c src/store/flowenc.c
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIBSRC)
	@mkdir -p $(@D)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude $(shell pkg-config --cflags libmaxminddb) \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $< $(FUZZ_LIBSRC) \
	  -lpcap -lcrypto -lmaxminddb
fuzz: $(FUZZ_BIN)
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(TESTDATA) $(FUZZ_BIN)

bench: $(BIN)
	bench/offline/run.sh $(abspath $(BIN))
	bench/agg/run.sh $(abspath $(O))
	bench/ring/run.sh $(abspath $(O))

.PHONY: bench-agg bench-ring
bench-agg: $(BIN)
	bench/agg/run.sh $(abspath $(O))

bench-ring: $(BIN)
	bench/ring/run.sh $(abspath $(O))

demo: $(BIN)
	bash deploy/demo-live.sh $(abspath $(BIN)) $(TESTDATA)

.PHONY: demo-offline
demo-offline: $(BIN)
	$(BIN) read --format json $(TESTDATA)/pcap/mixed/zeek_wikipedia.pcap

expected:
	tests/tools/gen-expected.sh $(TESTDATA)

FMT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FMT_FILES)
format-check:
	clang-format --dry-run --Werror $(FMT_FILES)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
