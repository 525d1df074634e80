# nsbpf: `make` builds everything into build/, `make test` runs the whole suite,
# `make demo` runs the main demo. SANITIZE=1 builds with ASan+UBSan into build-asan/.
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
CMAKE_FLAGS += -DNSBPF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD ?= build
CMAKE_FLAGS += -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif
JOBS ?= $(shell nproc)

.PHONY: all deps configure test demo bench fuzz clean format

all: configure
	cmake --build $(BUILD) -j$(JOBS)

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

test: all
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

demo: all
	@scripts/demo $(BUILD)

bench: all
	$(BUILD)/bench/nsbpf-bench-vm
	$(BUILD)/bench/nsbpf-bench-ctl

clean:
	rm -rf build build-asan

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
