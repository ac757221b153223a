#!/bin/sh
# sd-run's cost, measured side by side in one run (issue: sd-run benchmark):
#  1. wall time of `sd-run -- true` against bare `true` and moreutils
#     `chronic true` (hyperfine, median of many runs);
#  2. peak RSS while the job writes 1 GiB to stdout, against chronic,
#     which holds all of it.
# Needs: hyperfine, moreutils (chronic), GNU time. Run from the repository:
#   sh bench/sd-run.sh
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet
SD_RUN=$PWD/target/release/sd-run
out=bench/out
mkdir -p "$out"
export XDG_STATE_HOME="$out/state"

echo "== wall time (hyperfine, 2000 runs each, shell disabled)"
hyperfine -N --warmup 100 --runs 2000 --export-json "$out/sd-run-wall.json" \
    'true' "$SD_RUN -- true" 'chronic true' >/dev/null
python3 - "$out/sd-run-wall.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["median"]
for r in results:
    print(f'  {r["command"]:<40} median {r["median"]*1000:7.3f} ms'
          f'  (+{(r["median"]-base)*1000:.3f} ms over bare true, x{r["median"]/base:.2f})')
PY

echo "== peak RSS while the job writes 1 GiB to stdout (median of 5)"
job='head -c 1073741824 /dev/zero'
rss() { # prints the median max RSS in KiB of 5 runs of "$@"
    for i in 1 2 3 4 5; do
        /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n 1
    done | sort -n | sed -n 3p
}
baseline=$(rss sh -c "$job")
sdrun=$(rss "$SD_RUN" -- sh -c "$job")
chronic_rss=$(rss sh -c "chronic sh -c 'exec $job; exit 1'")
echo "  the job alone (sh + head)        ${baseline} KiB"
echo "  sd-run -- (job)                  ${sdrun} KiB"
echo "  chronic (job, failing, so it prints) ${chronic_rss} KiB"
