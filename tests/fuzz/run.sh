#!/bin/sh
# Run the libFuzzer harness (clang, ASan+UBSan) that `make fuzz` builds.
#   make fuzz FUZZ_SECONDS=N    or    tests/fuzz/run.sh [SECONDS] [libFuzzer flags...]
# Crashes land in build/fuzz/artifacts; the corpus grows in build/fuzz/corpus.
set -eu
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-60}
[ $# -gt 0 ] && shift
FUZZ_BIN=${FUZZ_BIN:-build/fuzz/fuzz_input}
OUT=$(dirname "$FUZZ_BIN")

[ -x "$FUZZ_BIN" ] || { echo "fuzz: $FUZZ_BIN not built (make fuzz builds it)" >&2; exit 2; }
mkdir -p "$OUT/corpus" "$OUT/seed" "$OUT/artifacts"

cp testdata/pprof/* testdata/perf/* "$OUT/seed/"
for f in testdata/legacy/*; do
	case $f in *LICENSE* | *README*) continue ;; esac
	cp "$f" "$OUT/seed/legacy-${f##*/}"
done
# The big perf-script fixture is past -max_len: also seed its head.
head -c 16000 testdata/perf/perf-script-gzip-dd.txt >"$OUT/seed/perf-head.txt"
printf 'main;foo;bar 10\nmain;foo 3\nmain;;baz 1\n' >"$OUT/seed/folded.txt"
printf 'a;b;c 1\r\nx 18446744073709551615\n' >"$OUT/seed/folded-crlf.txt"
printf 'swapper     0 [000] 12345.678901:   10101010 cpu-clock:ppp: \n\tffffffff81000000 native_safe_halt+0x6 ([kernel.kallsyms])\n\t7f00000000 [unknown] (/usr/lib/libc.so.6)\n\n' \
	>"$OUT/seed/perf-clock.txt"
printf 'dd 1234/1235 100.000001: 1 cycles:uk: \n\t401000 main+0x10 (/bin/dd)\n\t401100 __libc_start_main+0xf0 (/lib/libc.so)\n\ndd 1234/1235 100.000002: 1 cycles:uk: \n\t401000 main+0x10 (/bin/dd)\n\n' \
	>"$OUT/seed/perf-cycles.txt"
printf 'a 1 1.0: 9223372036854775807 cpu-clock:\n\t1 f (d)\n\na 1 1.1: 9223372036854775807 cpu-clock:\n\t1 f (d)\n' \
	>"$OUT/seed/perf-big-period.txt"
# What the symbolizer reads: maps, kallsyms and perf-map fixtures, and small
# ELF files (a stripped shared object and an executable with .symtab).
cp testdata/symbolize/kallsyms testdata/procfs/maps-edge "$OUT/seed/"
printf '7f0000001000 40 jitted_fn\n7f0000001040 20 LazyCompile:~foo bar.js:1\nzz 1 bad\n' \
	>"$OUT/seed/perf-map.txt"
printf 'int f(int x) { return x + 1; }\nint main(void) { return f(0); }\n' >"$OUT/seed/elf.c"
if cc -O1 -o "$OUT/seed/elf-exe" "$OUT/seed/elf.c" 2>/dev/null &&
	cc -O1 -shared -fPIC -o "$OUT/seed/elf-so" "$OUT/seed/elf.c" 2>/dev/null; then
	strip "$OUT/seed/elf-so"
fi
rm -f "$OUT/seed/elf.c"
printf 'a;b 1\n' | gzip -c >"$OUT/seed/folded.txt.gz"
printf 'a;b 1\n' | zstd -q -c >"$OUT/seed/folded.txt.zst"

exec "$FUZZ_BIN" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
	-max_total_time="$SECONDS_TO_RUN" -artifact_prefix="$OUT/artifacts/" \
	-print_final_stats=1 "$@" "$OUT/corpus" "$OUT/seed"
