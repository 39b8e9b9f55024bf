# Convenience targets around meson; see README.md.
.PHONY: all build demo demo-alpine check deps clean format

all: build

deps:
	./scripts/install-deps.sh

build:
	@[ -f build/build.ninja ] || meson setup build --werror
	ninja -C build

# The Debian part (a real bookworm image from deb.debian.org), then the Alpine part.
demo:
	./scripts/demo.sh
	@if [ -d "$${COPA_SHARED_TESTDATA:-../shared/testdata}/alpine/minirootfs" ]; then \
		/usr/bin/python3 ./scripts/demo-alpine.py; \
	else \
		echo "== Alpine part skipped: no Alpine test data at ../shared/testdata (set COPA_SHARED_TESTDATA)"; \
	fi

# Alpine: an image from the shared minirootfs, a local signed repository, patched (no network).
demo-alpine: build
	/usr/bin/python3 ./scripts/demo-alpine.py

check:
	./scripts/test.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz build-results
