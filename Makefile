# The README's commands. Everything real lives in meson.build and scripts/.
#   make run    install what is missing, build, run the demo (APP=django or APP=fastapi: those)
#   make test   install what is missing, build, run every test
PY      := /usr/bin/python3
BUILD   := build
APP     ?= flask

.PHONY: all deps build run test unit integration fuzz asan bench docs format lint clean deb install

all: build

deps:
	@scripts/deps.sh deps/debian.txt
	@scripts/npm-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	@scripts/demo.sh $(BUILD)/src/moat $(APP)

unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

integration: build
	MOAT_BUILD=$(abspath $(BUILD)) $(PY) -m pytest tests/integration -q

fuzz: deps
	scripts/fuzz.sh

asan: deps
	scripts/asan.sh

test: build
	scripts/test.sh $(BUILD)

bench: build
	@scripts/deps.sh deps/debian-bench.txt
	bench/proxy/run.sh $(abspath $(BUILD)/src/moat)
	bench/proxy/instructions.sh $(abspath $(BUILD)/src/moat)
	bench/tls/run.sh $(abspath $(BUILD)/src/moat)
	bench/audit_code/run.sh $(abspath $(BUILD)/src/moat)
	bench/audit/run.sh $(abspath $(BUILD)/src/moat)
	bench/waf/run.sh $(abspath $(BUILD)/src/moat)
	bench/auth/run.sh $(abspath $(BUILD)/tests/tools/auth_tool)
	bench/auth/gateway.sh $(abspath $(BUILD)/src/moat)

docs: build
	$(BUILD)/src/moat config docs > docs/configuration.md

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c')

lint:
	scripts/lint.sh $(BUILD)

# make install [PREFIX=/usr/local] [DESTDIR=/some/root]
PREFIX  ?= /usr/local
install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX) >/dev/null
	ninja -C $(BUILD)
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild

deb: deps
	scripts/deb.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-deb
