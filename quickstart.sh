#!/usr/bin/env bash
# zerohour quick start. Two commands, on a fresh Debian 12 machine:
#   ./quickstart.sh demo   install, build, start zerohourd on the default rules,
#                          scan the bundled sample messages, stop the engine
#   ./quickstart.sh test   install, build, run the whole test suite (also under
#                          AddressSanitizer + UndefinedBehaviorSanitizer), then
#                          as root build, install, run and purge the .deb
# And for installing it: ./quickstart.sh deb builds the Debian package
# build/deb/zerohour_VERSION_ARCH.deb (then: apt install ./build/deb/zerohour_*.deb).
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(build-essential cmake pkg-config python3 zip unzip clang-format
  libprotobuf-c-dev protobuf-c-compiler libnng-dev libyara-dev libarchive-dev libmspack-dev
  zlib1g-dev libbz2-dev liblzma-dev
  libgmime-3.0-dev libinih-dev libjson-c-dev libcmocka-dev libhiredis-dev redis-server
  libsqlite3-dev nettle-dev
  clamav-testfiles libpython3.11-testsuite golang-github-jhillyerd-enmime-dev
  libarchive-tools mtools xorriso genisoimage udftools gcab liblnk-utils libgsf-bin libgsf-1-dev
  libmilter-dev postfix swaks opendkim-tools
  clamdscan rspamd libnss-wrapper prometheus lintian)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# Exim's malware ACL is tested with exim4-daemon-heavy, which conflicts with
# postfix (the milter's tests): its package is unpacked into a private folder,
# never installed, and tests/e2e/test_callers.py runs it from there.
EXIM_ROOT=${ZH_EXIM_ROOT:-/opt/zerohour-test/exim4}
private_exim() {
  [ -x "$EXIM_ROOT/usr/sbin/exim4" ] && return 0
  local tmp
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  if ! (cd "$tmp" && apt-get download -q exim4-daemon-heavy exim4-base >/dev/null 2>&1); then
    as_root apt-get update -qq
    (cd "$tmp" && apt-get download -q exim4-daemon-heavy exim4-base >/dev/null 2>&1) ||
      echo "== exim4-daemon-heavy could not be downloaded: Exim's test will skip"
  fi
  if ls "$tmp"/*.deb >/dev/null 2>&1; then
    as_root mkdir -p "$EXIM_ROOT"
    for d in "$tmp"/*.deb; do as_root dpkg-deb -x "$d" "$EXIM_ROOT"; done
  fi
  rm -rf "$tmp"
}

build() { # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

ENGINE_PID=
DEMO_DIR=
stop_demo() {
  if [ -n "$ENGINE_PID" ]; then kill -TERM "$ENGINE_PID" 2>/dev/null; wait "$ENGINE_PID" 2>/dev/null; fi
  ENGINE_PID=
  [ -n "$DEMO_DIR" ] && rm -rf "$DEMO_DIR"
  DEMO_DIR=
}

demo() {
  install_deps
  build build
  DEMO_DIR=$(mktemp -d)
  local addr="ipc://$DEMO_DIR/zerohour.sock"
  trap stop_demo EXIT
  build/bin/zerohourd --address "$addr" --rules rules 2>"$DEMO_DIR/engine.log" &
  ENGINE_PID=$!
  for _ in $(seq 100); do build/bin/zerohour ping --address "$addr" >/dev/null 2>&1 && break; sleep 0.1; done
  build/bin/zerohour ping --address "$addr"
  echo "== scanning tests/samples (expected verdicts: tests/samples/README.md)"
  local rc=0
  build/bin/zerohour scan --address "$addr" tests/samples/*.eml || rc=$?
  echo "== zerohour exit status $rc (0 all clean, 1 something flagged, 2 errors)"
  stop_demo
  [ $rc -le 1 ]
}

run_tests() {
  install_deps
  private_exim
  build build
  (cd build && ctest --output-on-failure -j2)
  echo "== again under AddressSanitizer + UndefinedBehaviorSanitizer"
  build build-asan -DZH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --output-on-failure -j2)
  echo "== the Debian package: build, inspect, apt install, run as zerohour, purge"
  # Skips itself unless root on a machine without zerohour installed.
  cmake -S . -B build -DZH_PACKAGE_TESTS=ON >/dev/null
  (cd build && ctest --output-on-failure -L package)
}

# The package is built from its own tree, configured for /usr (the programs
# find their rules relative to themselves, the units and configs name /usr
# and /etc), without the tests; lintian reports what Debian would say.
deb() {
  install_deps
  build build/pkg -DCMAKE_INSTALL_PREFIX=/usr -DZH_TESTS=OFF
  rm -rf build/pkg/deb-out build/deb
  (cd build/pkg && cpack -G DEB >/dev/null)
  mkdir -p build/deb
  cp build/pkg/deb-out/zerohour_*.deb build/deb/
  local deb
  deb=$(ls build/deb/zerohour_*.deb)
  echo "== $deb"
  if command -v lintian >/dev/null; then lintian --fail-on error "$deb"; fi
}

case "${1:-}" in
  demo) demo ;;
  test) run_tests ;;
  deb) deb ;;
  *) echo "usage: $0 demo|test|deb" >&2; exit 2 ;;
esac
