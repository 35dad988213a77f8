# Convenience wrapper; the build itself is meson (see scripts/).
.PHONY: all deps check demo clean fuzz bench
all:
	bash scripts/deps.sh build && bash scripts/build.sh
deps:
	bash scripts/deps.sh test
check:
	bash scripts/check.sh
demo:
	bash scripts/demo.sh
fuzz:
	GB_FUZZ_SECONDS=$${GB_FUZZ_SECONDS:-60} bash tests/run-all.sh
clean:
	rm -rf build build-asan build-fuzz
