# Thin wrapper over meson. Everything builds out of tree:
#   build/        the normal build; build/stage is a complete install root
#   build-asan/   `make check`: AddressSanitizer + UndefinedBehaviorSanitizer,
#                 warnings fatal; build-asan/stage is what the tests run
PREFIX     ?= /usr/local
BUILD      ?= build
CHECK      ?= build-asan
MESON      ?= meson

.PHONY: all build deps install demo check unit e2e stress fuzz bench format clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --werror

build: $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD)
	@$(MESON) install -C $(BUILD) --no-rebuild --quiet --destdir $(CURDIR)/$(BUILD)/stage

# Programs find their install root from their own location, so one staged
# tree copied under PREFIX is a working install.
install: build
	$(MESON) install -C $(BUILD) --no-rebuild --destdir $(DESTDIR)$(PREFIX)

$(CHECK)/build.ninja:
	$(MESON) setup $(CHECK) --werror -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug

# The optimised build is compiled too: -O2 sees warnings (maybe-uninitialized)
# that the sanitizer build at -O0 does not.
check: deps build $(CHECK)/build.ninja
	$(MESON) compile -C $(CHECK)
	@$(MESON) install -C $(CHECK) --no-rebuild --quiet --destdir $(CURDIR)/$(CHECK)/stage
	@tests/run-tests $(CHECK)

# Subsets, for quick iterations.
unit: $(CHECK)/build.ninja
	$(MESON) compile -C $(CHECK)
	@tests/run-tests --unit $(CHECK)

e2e: $(CHECK)/build.ninja
	$(MESON) compile -C $(CHECK)
	@$(MESON) install -C $(CHECK) --no-rebuild --quiet --destdir $(CURDIR)/$(CHECK)/stage
	@tests/run-tests --e2e $(CHECK) $(if $(T),$(T))

# The fault-and-load driver, long mode (make check runs its short mode).
stress: deps build $(CHECK)/build.ninja
	$(MESON) compile -C $(CHECK)
	@$(MESON) install -C $(CHECK) --no-rebuild --quiet --destdir $(CURDIR)/$(CHECK)/stage
	@tests/stress/run $(CHECK)

# libFuzzer targets, FUZZ_SECONDS each (default 60), from the checked-in corpus
# (tests/fuzz/README.md); T=body picks one.
fuzz: deps
	@tests/fuzz/run $(if $(T),$(T))

demo: deps build
	@scripts/demo.sh $(BUILD)

bench: deps build
	@bench/run $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(CHECK) build-fuzz
