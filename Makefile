# Convenience targets around meson; see README.md.
.PHONY: all build demo check deps clean format

all: build

deps:
	./scripts/install-deps.sh

build:
	@[ -f build/build.ninja ] || meson setup build --werror
	ninja -C build

demo:
	./scripts/demo.sh

check:
	./scripts/test.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz build-results
