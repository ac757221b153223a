#!/bin/sh
# The whole test suite, on a fresh Debian machine with Rust: installs what
# the tests need when it is missing (as root; otherwise it says what to
# install), then runs every test. The README's test command; .ci/run calls it.
set -eu
cd "$(dirname "$0")/.."

# The comparisons with fixtures, man pages and screenshots are the tests:
# a run that rewrites them instead proves nothing.
if env | grep -q '^SD_UPDATE_'; then
    echo "tests/check.sh: unset $(env | grep '^SD_UPDATE_' | cut -d= -f1 | tr '\n' ' ')first: they rewrite what the tests compare" >&2
    exit 2
fi

missing=""
need() { # need COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}
need cc gcc                  # bundled SQLite is C
need redis-server redis-server
need redis-cli redis-tools
need nats-server nats-server # the log's second engine (NATS JetStream)
need groff groff-base        # man pages are checked for warnings
need seq coreutils
need make make               # the install target is tested
need python3 python3         # test handlers and example scripts
need openssl openssl         # a throwaway CA for the TLS tests
need runsvdir runit          # a real supervisor for sd-heartbeat's restarts
[ -x /usr/sbin/nft ] || need nft nftables   # the firewall action of the orders tests
[ -x /usr/bin/time ] || missing="$missing time"   # peak memory of hostile-input runs
need guile guile-3.0         # contrib/guix and contrib/shepherd must read as Scheme
need chromium chromium       # the status page, rendered by a real browser
need systemd-analyze systemd # contrib/systemd's units, verified
need debootstrap debootstrap # the Debian package, installed into Debian 12 and 13
need lintian lintian         # and checked as Debian checks packages
need objdump binutils        # make deb: the C library version the program needs
need curl curl               # sd-gate's pings, as healthchecks.io's crontabs send them
need wget wget
need pip3 python3-pip        # the healthchecks.io Python client below
# A real SMTP server for sd-mail's tests: Debian's aiosmtpd, run by the
# system's Python (tests look for it under /usr/bin/python3).
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing="$missing python3-aiosmtpd"
# A standard Ed25519 library, for the example that writes orders in Python.
/usr/bin/python3 -c 'import cryptography' >/dev/null 2>&1 || missing="$missing python3-cryptography"

# promtool checks the metrics. Debian ships it in `prometheus`, whose
# installation also enables a Prometheus server and node exporter on a
# systemd host: the package is unpacked into a cache instead, outside the
# tree, and only its promtool used.
if ! command -v promtool >/dev/null 2>&1; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/sheepdog-tests/prometheus
    if [ ! -x "$cache/usr/bin/promtool" ] && command -v apt-get >/dev/null 2>&1; then
        echo "tests/check.sh: unpacking promtool from Debian's prometheus into $cache (no service is installed)" >&2
        mkdir -p "$cache"
        [ "$(id -u)" = 0 ] && apt-get update -qq
        (cd "$cache" && apt-get download -qq prometheus >/dev/null && dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb) ||
            echo "tests/check.sh: could not fetch prometheus; the promtool test will fail" >&2
    fi
    PATH=$cache/usr/bin:$PATH
    export PATH
fi

# rustfmt and clippy: rustup's components, or Debian's packages when the
# toolchain is Debian's.
for tool in fmt clippy; do
    cargo "$tool" --version >/dev/null 2>&1 && continue
    if command -v rustup >/dev/null 2>&1; then
        rustup component add "$([ "$tool" = fmt ] && echo rustfmt || echo clippy)"
    else
        missing="$missing $([ "$tool" = fmt ] && echo rustfmt || echo rust-clippy)"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "tests/check.sh: installing$missing" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "tests/check.sh: missing$missing; install them (apt-get install$missing) or run this as root" >&2
        exit 1
    fi
fi

# A Python client of healthchecks.io's ping API from PyPI, for sd-gate's
# tests: installed into a cache outside the tree (tests/gate.rs looks
# there), not into the system's Python.
hc_python=${XDG_CACHE_HOME:-$HOME/.cache}/sheepdog-tests/healthchecks-io
if [ ! -d "$hc_python/healthchecks_io" ]; then
    echo "tests/check.sh: installing the healthchecks-io client into $hc_python" >&2
    # Debian 12's pip refuses without --break-system-packages even with
    # --target; older pips do not know the flag.
    python3 -m pip install -q --target "$hc_python" healthchecks-io==0.4.4 2>/dev/null ||
        python3 -m pip install -q --break-system-packages --target "$hc_python" healthchecks-io==0.4.4 ||
        echo "tests/check.sh: could not install healthchecks-io; its test will fail" >&2
fi

# The code as the project keeps it: formatted, and clean under clippy.
cargo fmt --check
cargo clippy --locked --all-targets --all-features -- -D warnings
# Every test, the man page and completion generator's included. A test
# that cannot run here (not root, no unshare) says why in $SD_SKIPPED.
SD_SKIPPED=$(mktemp)
export SD_SKIPPED
status=0
cargo test --locked --features gen || status=$?
if [ -s "$SD_SKIPPED" ]; then
    echo "tests/check.sh: $(sort -u "$SD_SKIPPED" | wc -l) test(s) skipped here:" >&2
    sort -u "$SD_SKIPPED" | sed 's/^/  /' >&2
fi
rm -f "$SD_SKIPPED"
exit "$status"
