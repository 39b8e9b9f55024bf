# Convenience targets around meson; see README.md.
.PHONY: all build demo demo-alpine check deps clean format

all: build

deps:
	./scripts/install-deps.sh

build:
	@[ -f build/build.ninja ] || meson setup build --werror
	ninja -C build

demo:
	./scripts/demo.sh

# Alpine: an image from the shared minirootfs, a local signed repository, patched (no network).
demo-alpine: build
	/usr/bin/python3 ./scripts/demo-alpine.py

check:
	./scripts/test.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz build-results
