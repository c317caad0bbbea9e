#!/usr/bin/env bash
# End-to-end tests: drive the real bpprof binary (no root needed) and judge
# its output with google/pprof's own parser (build/pprofcheck).
#   BUILD=build tests/e2e.sh        KEEP=1 keeps the scratch directory
# (shared setup and helpers: tests/lib.sh)
# Prints "ok NAME" or "FAIL NAME: why" per check and ends with
# "e2e: N passed, M failed"; exits non-zero when anything failed.
set -eu

SUITE=e2e
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
need_tools "$BPPROF" "$PPROFCHECK"

# ---- helpers (each returns non-zero with a reason on stdout) ----

# convert OUT ARGS...: bpprof convert ARGS -o OUT, failing with its stderr.
convert() {
	local out=$1
	shift
	if ! "$BPPROF" convert "$@" -o "$out" 2>"$out.stderr"; then
		echo "bpprof convert $* -o $out failed: $(cat "$out.stderr")"
		return 1
	fi
	[ -s "$out" ] || { echo "bpprof wrote no $out"; return 1; }
}

# ---- 1. foreign pprof files: pprof -> pprof keeps their meaning ----

t_pprof_gzip() { # default output is gzip
	local in=$1 out=$T/rt/$2.pb.gz
	convert "$out" "$in" || return 1
	[ "$(magic "$out" | cut -c1-4)" = 1f8b ] || { echo "not gzip: $(magic "$out")"; return 1; }
	strict "$out" && same_summary "$in" "$out"
}

t_pprof_none() {
	local in=$1 out=$T/rt/$2.pb
	convert "$out" "$in" --compress none || return 1
	case $(magic "$out") in
	1f8b* | 28b52ffd) echo "compressed despite --compress none: $(magic "$out")"; return 1 ;;
	esac
	strict "$out" && same_summary "$in" "$out"
}

t_pprof_zstd() { # zstd: the zstd tool and bpprof itself both read it back
	local in=$1 out=$T/rt/$2.pb.zst
	convert "$out" "$in" --compress zstd || return 1
	[ "$(magic "$out")" = 28b52ffd ] || { echo "not zstd: $(magic "$out")"; return 1; }
	zstd -q -d -c "$out" >"$out.raw" || { echo "zstd -d rejects $out"; return 1; }
	strict "$out.raw" && same_summary "$in" "$out.raw" || return 1
	convert "$out.back.pb.gz" "$out" || return 1
	same_summary "$in" "$out.back.pb.gz"
}

mkdir -p "$T/rt"
for in in testdata/pprof/*; do
	base=$(basename "$in")
	check "pprof $base: google/pprof reads the original" "$PPROFCHECK" check "$in"
	check "pprof $base -> pprof (gzip default) same meaning" t_pprof_gzip "$in" "$base"
	check "pprof $base -> pprof --compress none same meaning" t_pprof_none "$in" "$base"
	check "pprof $base -> pprof --compress zstd, read back" t_pprof_zstd "$in" "$base"
done

# ---- 2. perf script text -> pprof ----

perf=testdata/perf/perf-script-gzip-dd.txt

t_perf() {
	local out=$T/perf.pb.gz types total labels c want got
	convert "$out" "$perf" || return 1
	strict "$out" || return 1
	types=$("$PPROFCHECK" summary "$out" | sed -n 's/^sample_types: //p')
	[ "$types" = "samples/count cpu/nanoseconds" ] || { echo "sample types: $types"; return 1; }
	types=$("$PPROFCHECK" summary "$out" | sed -n 's/^period_type: //p')
	[ "$types" = cpu/nanoseconds ] || { echo "period type: $types"; return 1; }
	total=$("$PPROFCHECK" total "$out" samples/count)
	[ "$total" = 2499 ] || { echo "samples/count total $total, want 2499"; return 1; }
	# every record is one cpu-clock period of 1001001 ns (-F 999)
	total=$("$PPROFCHECK" total "$out" cpu/nanoseconds)
	[ "$total" = $((2499 * 1001001)) ] || { echo "cpu/nanoseconds total $total, want 2499 x 1001001"; return 1; }
	labels=$("$PPROFCHECK" labels "$out")
	# perf printed one number per record (the tid; pid only with PID/TID)
	printf '%s\n' "$labels" | grep -q '^#tid=' || { echo "no numeric tid label"; return 1; }
	printf '%s\n' "$labels" | grep -q '^comm=' || { echo "no comm label"; return 1; }
	# samples per comm, as `grep cpu-clock | cut -d' ' -f1 | sort | uniq -c` counts them
	summary "$out" "$T/perf.sum" -labels || return 1
	for c in gzip:2163 dd:334 sh:2; do
		want=${c#*:}
		got=$(sum_labelled "$T/perf.sum" "comm=${c%%:*}")
		[ "$got" = "$want" ] || { echo "comm=${c%%:*}: $got samples, want $want"; return 1; }
	done
}

t_perf_explicit() { # --from perf-script gives what detection gives
	convert "$T/perf-explicit.pb.gz" --from perf-script "$perf" || return 1
	same_summary "$T/perf.pb.gz" "$T/perf-explicit.pb.gz"
}

check "perf-script -> pprof: types, period, 2499 samples, tid/comm labels" t_perf
check "perf-script --from perf-script same as detected" t_perf_explicit

# ---- 3. folded stacks ----

libbpf=testdata/perf/libbpf-tools-profile-folded.txt

t_libbpf_folded() { # folded -> pprof -> folded keeps the total
	local want got
	want=$(folded_total "$libbpf")
	convert "$T/libbpf.pb.gz" --from folded "$libbpf" || return 1
	strict "$T/libbpf.pb.gz" || return 1
	got=$(first_total "$T/libbpf.pb.gz")
	[ "$got" = "$want" ] || { echo "pprof total $got, folded input total $want"; return 1; }
	convert "$T/libbpf.folded" --to folded "$T/libbpf.pb.gz" || return 1
	got=$(folded_total "$T/libbpf.folded")
	[ "$got" = "$want" ] || { echo "folded output total $got, input total $want"; return 1; }
}
check "libbpf-tools folded -> pprof -> folded keeps total" t_libbpf_folded

# Distinct stacks, so the round trip must give back exactly these lines.
cat >"$T/hand.folded" <<'EOF'
main;run;compute 100
main;run;io_wait;read 25
main;run 3
main;serve;std::vector<int>::push_back;operator new(unsigned long) 7
[unknown] 1
swapper;secondary_startup_64;cpu_startup_entry;do_idle 12345
python3;_PyEval_EvalFrameDefault;[libpython3.11.so.1.0] 2
EOF
LC_ALL=C sort "$T/hand.folded" >"$T/hand.sorted"

t_folded_roundtrip() {
	convert "$T/hand.pb.gz" "$T/hand.folded" || return 1 # format detected
	strict "$T/hand.pb.gz" || return 1
	convert "$T/hand.out.folded" --to folded "$T/hand.pb.gz" || return 1
	LC_ALL=C sort "$T/hand.out.folded" >"$T/hand.out.sorted"
	cmp -s "$T/hand.sorted" "$T/hand.out.sorted" ||
		{ echo "round trip differs:"; diff "$T/hand.sorted" "$T/hand.out.sorted"; return 1; }
}

t_folded_pprof_view() { # google/pprof sees the same stacks and counts
	"$PPROFCHECK" folded "$T/hand.pb.gz" >"$T/hand.pprofcheck.folded" || return 1
	cmp -s "$T/hand.sorted" "$T/hand.pprofcheck.folded" ||
		{ echo "google/pprof's stacks differ:"; diff "$T/hand.sorted" "$T/hand.pprofcheck.folded"; return 1; }
}

t_folded_explicit() {
	convert "$T/hand-explicit.pb.gz" --from folded --to pprof "$T/hand.folded" || return 1
	same_summary "$T/hand.pb.gz" "$T/hand-explicit.pb.gz"
}

check "folded -> pprof -> folded round trip (detected format)" t_folded_roundtrip
check "folded -> pprof: google/pprof reads the same stacks" t_folded_pprof_view
check "folded --from folded --to pprof same as detected" t_folded_explicit

# Text is one format throughout, or refused (issue 19 item 7, issue 20).
# perf script -F comm,tid,ip,sym with call chains: "COMM TID" looks like a
# stack with the thread id for count, its frames are no folded lines.
t_not_folded() {
	local in=testdata/perf/perf-script-comm-tid-ip-sym.txt
	t_bad_input "$in" || return 1
	grep -qF "looks like folded stacks, but line 2: expected 'frame;frame COUNT', got '1160 leaf'" \
		"$T/err.$(basename "$in")" || { echo "message: $(cat "$T/err.$(basename "$in")")"; return 1; }
	t_bad_input "$in" --from folded || return 1
	grep -qF "most lines are not 'frame;frame COUNT' (23 of 29" "$T/err.$(basename "$in")" ||
		{ echo "--from folded: $(cat "$T/err.$(basename "$in")")"; return 1; }
}

t_srcline() { # perf script -F +srcline: source lines are read past
	local f
	for f in perf-script-srcline.txt perf-script-srcline-no-callchain.txt; do
		convert "$T/$f.pb.gz" "testdata/perf/$f" || return 1
		grep -q '(perf-script)' "$T/$f.pb.gz.stderr" || { echo "$f: $(cat "$T/$f.pb.gz.stderr")"; return 1; }
		[ "$("$PPROFCHECK" total "$T/$f.pb.gz" samples/count)" = 6 ] || { echo "$f: total $("$PPROFCHECK" total "$T/$f.pb.gz" samples/count)"; return 1; }
	done
}
check "perf script -F +srcline is read, with or without call chains" t_srcline

t_folded_empty_frames() { # ";;; 2" holds no frame: skipped, not four [unknown]
	printf 'main;work 3\n;;; 2\n' >"$T/empty-frames.folded"
	convert "$T/empty-frames.pb.gz" "$T/empty-frames.folded" || return 1
	[ "$("$PPROFCHECK" folded "$T/empty-frames.pb.gz")" = "main;work 3" ] ||
		{ echo "stacks: $("$PPROFCHECK" folded "$T/empty-frames.pb.gz")"; return 1; }
	grep -q 'lines skipped.*: 1, the first at line 2' "$T/empty-frames.pb.gz.stderr" ||
		{ echo "no warning: $(cat "$T/empty-frames.pb.gz.stderr")"; return 1; }
}
check "folded ';;; 2' is skipped, not four [unknown] frames" t_folded_empty_frames

t_folded_nul() { # one NUL byte does not make text "pprof"
	printf 'main;work 3\nmain;w\0rk 2\nmain 1\n' >"$P/nul.folded"
	t_bad_input "$P/nul.folded" || return 1
	grep -qF "looks like folded stacks, but line 2: expected 'frame;frame COUNT' (it holds a NUL byte)" \
		"$T/err.nul.folded" || { echo "message: $(cat "$T/err.nul.folded")"; return 1; }
	convert "$T/nul.pb.gz" "$P/nul.folded" --from folded || return 1
	[ "$("$PPROFCHECK" total "$T/nul.pb.gz" samples/count)" = 4 ] || { echo "total $("$PPROFCHECK" total "$T/nul.pb.gz" samples/count)"; return 1; }
}

# pprof -> folded gives google/pprof's stacks (profiles with one sample type
# and every location symbolized, so neither a value column nor the spelling
# of a raw address is a matter of choice).
t_pprof_folded() {
	local in=testdata/pprof/$1 out=$T/$1.folded
	convert "$out" --to folded "$in" || return 1
	"$PPROFCHECK" folded "$in" >"$out.want" || return 1
	LC_ALL=C sort "$out" | cmp -s "$out.want" - ||
		{ echo "stacks differ from google/pprof's (< pprof, > bpprof):"; LC_ALL=C sort "$out" | diff "$out.want" - | head -20 | cut -c1-300; return 1; }
}
for f in parca-two-stacks.pb.gz parca-single-stack.pb.gz parca-no-python.pb.gz parca-profile-with-labels.pb.gz; do
	check "pprof $f -> folded: google/pprof's stacks" t_pprof_folded "$f"
done

# ---- 4. standard output ----

t_stdout_pprof() {
	local d=$T/stdout-pprof
	mkdir -p "$d"
	(cd "$d" && "$BPPROF" convert "$root/testdata/pprof/go-runtime-cpu.pb.gz" -o - >"$T/stdout.pb.gz" 2>"$T/stdout.err") ||
		{ echo "failed: $(cat "$T/stdout.err")"; return 1; }
	[ -z "$(ls -A "$d")" ] || { echo "files left in the working directory: $(ls -A "$d")"; return 1; }
	[ "$(magic "$T/stdout.pb.gz" | cut -c1-4)" = 1f8b ] || { echo "stdout is not gzip"; return 1; }
	same_summary testdata/pprof/go-runtime-cpu.pb.gz "$T/stdout.pb.gz"
}

t_stdout_folded() { # same text on stdout as in a file
	local in=testdata/pprof/parca-two-stacks.pb.gz
	convert "$T/two-stacks.folded" --to folded "$in" || return 1
	"$BPPROF" convert --to folded "$in" -o - >"$T/stdout.folded" 2>"$T/stdout.err" ||
		{ echo "failed: $(cat "$T/stdout.err")"; return 1; }
	cmp -s "$T/two-stacks.folded" "$T/stdout.folded" ||
		{ echo "stdout differs from file:"; diff "$T/two-stacks.folded" "$T/stdout.folded"; return 1; }
}

check "-o - writes pprof to stdout and no file" t_stdout_pprof
check "--to folded -o - writes folded text to stdout" t_stdout_folded

# ---- 5. output naming, compression by suffix, stdin, --sample-type ----

t_suffix() { # t_suffix NAME MAGIC: compression follows OUT's suffix
	local out=$T/suffix/$1
	mkdir -p "$T/suffix"
	convert "$out" testdata/pprof/parca-fib.pb.gz || return 1
	case $2:$(magic "$out") in
	plain:1f8b* | plain:28b52ffd) echo "$1 is compressed: $(magic "$out")"; return 1 ;;
	plain:*) ;;
	"$2":"$2"*) ;;
	*) echo "$1 starts $(magic "$out"), want $2"; return 1 ;;
	esac
	case $2 in
	28b52ffd) zstd -q -d -c "$out" >"$out.raw" && same_summary testdata/pprof/parca-fib.pb.gz "$out.raw" ;;
	*) same_summary testdata/pprof/parca-fib.pb.gz "$out" ;;
	esac
}
check "-o x.pb.zst writes zstd without --compress" t_suffix x.pb.zst 28b52ffd
check "-o x.pb writes plain protobuf without --compress" t_suffix x.pb plain
check "-o x.pprof writes gzip (the default)" t_suffix x.pprof 1f8b

t_default_name() { # README: `bpprof convert stacks.folded` writes stacks.pb.gz
	local d=$T/default-name
	mkdir -p "$d"
	cp "$T/hand.folded" "$d/stacks.folded"
	(cd "$d" && "$BPPROF" convert stacks.folded 2>"$d/err") || { echo "failed: $(cat "$d/err")"; return 1; }
	[ -s "$d/stacks.pb.gz" ] || { echo "no stacks.pb.gz; directory has: $(ls -A "$d")"; return 1; }
	same_summary "$T/hand.pb.gz" "$d/stacks.pb.gz"
}
check "convert stacks.folded without -o writes stacks.pb.gz" t_default_name
t_default_name_dir() { # the derived output goes beside IN, not into the working directory
	local d=$T/default-dir
	mkdir -p "$d/in" "$d/cwd"
	cp "$T/hand.folded" "$d/in/run1.perf"
	printf 'precious\n' >"$d/cwd/run1.pb.gz"
	(cd "$d/cwd" && "$BPPROF" convert --from folded ../in/run1.perf 2>"$d/err") ||
		{ echo "failed: $(cat "$d/err")"; return 1; }
	[ "$(cat "$d/cwd/run1.pb.gz")" = precious ] || { echo "overwrote ./run1.pb.gz"; return 1; }
	same_summary "$T/hand.pb.gz" "$d/in/run1.pb.gz"
}
check "convert ../in/run1.perf without -o writes ../in/run1.pb.gz" t_default_name_dir
t_folded_dir_name() { # only the file name chooses folded output, not a directory
	local d=$T/x.folded.d
	mkdir -p "$d"
	convert "$d/out.pb.gz" "$T/hand.folded" || return 1
	same_summary "$T/hand.pb.gz" "$d/out.pb.gz"
}
check "-o x.folded.d/out.pb.gz writes pprof" t_folded_dir_name

t_stdin() {
	"$BPPROF" convert - -o "$T/stdin.pb.gz" <testdata/pprof/parca-fib.pb.gz 2>"$T/stdin.err" ||
		{ echo "failed: $(cat "$T/stdin.err")"; return 1; }
	same_summary testdata/pprof/parca-fib.pb.gz "$T/stdin.pb.gz"
}
check "- as IN reads standard input" t_stdin

t_sample_type() { # folded sums samples where present, else default_sample_type or the last type
	local in=testdata/pprof/go-runtime-cpu.pb.gz t want got
	convert "$T/st-default.folded" --to folded "$in" || return 1
	want=$("$PPROFCHECK" total "$in" samples/count)
	got=$(folded_total "$T/st-default.folded")
	[ "$got" = "$want" ] || { echo "default: folded total $got, want samples/count $want"; return 1; }
	for t in samples cpu; do
		convert "$T/st-$t.folded" --to folded --sample-type "$t" "$in" || return 1
		"$PPROFCHECK" folded -type "$t" "$in" >"$T/st-$t.want"
		LC_ALL=C sort "$T/st-$t.folded" | cmp -s "$T/st-$t.want" - ||
			{ echo "--sample-type $t:"; LC_ALL=C sort "$T/st-$t.folded" | diff "$T/st-$t.want" -; return 1; }
	done
	in=testdata/pprof/parca-alloc_objects.pb.gz # default_sample_type alloc_space
	convert "$T/st-alloc.folded" --to folded "$in" || return 1
	want=$("$PPROFCHECK" total "$in" alloc_space)
	got=$(folded_total "$T/st-alloc.folded")
	[ "$got" = "$want" ] || { echo "default_sample_type: folded total $got, want alloc_space $want"; return 1; }
}
check "--to folded sums samples, else the default sample type, or --sample-type" t_sample_type

# ---- 6. hand-made protobufs (field numbers per protocols.md) ----
# Helpers build messages as hex byte lists; every length here is < 128, so
# a length or small value is one varint byte.

# Byte lists are split into words on purpose in this block:
# shellcheck disable=SC2046,SC2086
{
hex() { printf '%s' "$1" | od -An -v -tx1; }            # bytes of a string
vi() { printf '%02x %02x ' $(($1 << 3)) "$2"; }          # varint field $1 = $2 (< 128)
ld() {                                                   # length-delimited field $1 holding the rest
	local f=$1
	shift
	printf '%02x %02x %s ' $((f << 3 | 2)) $# "$*"
}
str() { ld 6 $(hex "$1"); }                             # a string_table entry (Profile field 6)
bytes() {                                               # bytes FILE HEX...: write raw bytes
	local f=$1 fmt='' b
	shift
	for b in "$@"; do fmt="$fmt\\x$b"; done
	# shellcheck disable=SC2059 # the format is nothing but \xHH escapes
	printf "$fmt" >"$f"
}

P=$T/proto
mkdir -p "$P"
strings4="$(str '') $(str samples) $(str count) $(str main)" # indexes 0..3
sample_type="$(ld 1 $(vi 1 1) $(vi 2 2))"                    # Profile.sample_type {type "samples", unit "count"}
function1="$(ld 5 $(vi 1 1) $(vi 2 3))"                      # Profile.function {id 1, name "main"}
location1="$(ld 4 $(vi 1 1) $(ld 4 $(vi 1 1) $(vi 2 10)))"   # Profile.location {id 1, line {function_id 1, line 10}}
sample1="$(ld 2 $(vi 1 1) $(vi 2 5))"                        # Profile.sample {location_id 1, value 5} (unpacked)

# The smallest sensible profile: one sample of 5 at main.
bytes "$P/good.pb" $strings4 $sample_type $function1 $location1 $sample1
# The same with packed repeated fields: location_id [1] and value [5].
bytes "$P/packed.pb" $strings4 $sample_type $function1 $location1 $(ld 2 $(ld 1 01) $(ld 2 05))

t_handmade_good() {
	local out=$T/good.out.pb.gz
	[ "$("$PPROFCHECK" folded "$P/good.pb")" = "main 5" ] || { echo "fixture: google/pprof reads $("$PPROFCHECK" folded "$P/good.pb" 2>&1)"; return 1; }
	convert "$out" "$P/good.pb" || return 1
	strict "$out" && same_summary "$P/good.pb" "$out"
}
t_handmade_packed() {
	local out=$T/packed.out.pb.gz
	same_summary "$P/good.pb" "$P/packed.pb" || { echo "(fixture)"; return 1; }
	convert "$out" "$P/packed.pb" || return 1
	same_summary "$P/good.pb" "$out"
}
check "hand-made minimal pprof (plain, unpacked) converts" t_handmade_good
check "hand-made minimal pprof with packed fields converts" t_handmade_packed
# Ids need not be 1..N on input (google/pprof accepts any unique nonzero
# ids); bpprof's output must have them 1..N in order (Parca's rule).
# function id 9 named "main", location id 7 calling it, sample at location 7
bytes "$P/sparse-ids.pb" $strings4 $sample_type $(ld 5 $(vi 1 9) $(vi 2 3)) \
	$(ld 4 $(vi 1 7) $(ld 4 $(vi 1 9) $(vi 2 10))) $(ld 2 $(vi 1 7) $(vi 2 5))
t_handmade_sparse() {
	local out=$T/sparse.out.pb.gz
	same_summary "$P/good.pb" "$P/sparse-ids.pb" || { echo "(fixture)"; return 1; }
	if "$PPROFCHECK" check -strict "$P/sparse-ids.pb" >/dev/null 2>&1; then
		echo "fixture error: sparse-ids.pb passes the strict check"
		return 1
	fi
	convert "$out" "$P/sparse-ids.pb" || return 1
	strict "$out" && same_summary "$P/good.pb" "$out"
}
check "hand-made pprof with sparse ids gets ids 1..N" t_handmade_sparse

# What google/pprof reads as absent, bpprof drops, and the output means the
# same to google/pprof: a location naming a mapping that does not exist; a
# label with both a string and a number (pprof keeps the string); and
# time_nanos 0 followed by a real one (pprof keeps the second).
bytes "$P/dangling-mapping.pb" $strings4 $sample_type $function1 \
	$(ld 4 $(vi 1 1) $(vi 2 7) $(ld 4 $(vi 1 1) $(vi 2 10))) $sample1
bytes "$P/label-str-and-num.pb" $strings4 $sample_type $function1 $location1 \
	$(ld 2 $(vi 1 1) $(vi 2 5) $(ld 3 $(vi 1 3) $(vi 2 1) $(vi 3 42)))
bytes "$P/time-zero-then-set.pb" $strings4 $sample_type $function1 $location1 $sample1 \
	$(vi 9 0) $(vi 9 5)
# google/pprof writes "pprof::base" labels itself (-diff_base); they are kept.
bytes "$P/pprof-base-label.pb" $strings4 $(str pprof::base) $(str true) $sample_type \
	$function1 $location1 $(ld 2 $(vi 1 1) $(vi 2 5) $(ld 3 $(vi 1 4) $(vi 2 5)))
t_tolerated() {
	local out=$T/$(basename "$1" .pb).out.pb.gz
	"$PPROFCHECK" check "$1" >/dev/null || { echo "(fixture: google/pprof refuses it)"; return 1; }
	convert "$out" "$1" || return 1
	strict "$out" && same_summary "$1" "$out"
}
for f in dangling-mapping label-str-and-num time-zero-then-set pprof-base-label; do
	check "pprof that google/pprof accepts: $f converts and means the same" t_tolerated "$P/$f.pb"
done

# Broken variants of good.pb, one defect each:
# function name = string 9, but the table has 4 strings
bytes "$P/string-index-out-of-range.pb" $strings4 $sample_type $(ld 5 $(vi 1 1) $(vi 2 9)) $location1 $sample1
# location id 0 (reserved), and the sample points at it
bytes "$P/zero-location-id.pb" $strings4 $sample_type $function1 \
	$(ld 4 $(vi 1 0) $(ld 4 $(vi 1 1) $(vi 2 10))) $(ld 2 $(vi 1 0) $(vi 2 5))
# function id 0 (reserved), and the line points at it
bytes "$P/zero-function-id.pb" $strings4 $sample_type $(ld 5 $(vi 1 0) $(vi 2 3)) \
	$(ld 4 $(vi 1 1) $(ld 4 $(vi 1 0) $(vi 2 10))) $sample1
# two locations with id 1
bytes "$P/duplicate-location-id.pb" $strings4 $sample_type $function1 $location1 $location1 $sample1
# the sample points at location 2, which does not exist
bytes "$P/missing-location.pb" $strings4 $sample_type $function1 $location1 $(ld 2 $(vi 1 2) $(vi 2 5))
# the line points at function 2, which does not exist
bytes "$P/missing-function.pb" $strings4 $sample_type $function1 \
	$(ld 4 $(vi 1 1) $(ld 4 $(vi 1 2) $(vi 2 10))) $sample1
# time_nanos (field 9, tag 0x48) as a varint of 11 0xff bytes then 0x01: longer than 10 bytes
bytes "$P/huge-varint.pb" $strings4 $sample_type $function1 $location1 $sample1 \
	48 ff ff ff ff ff ff ff ff ff ff ff 01
# string_table[0] is "x" instead of ""
bytes "$P/string0-not-empty.pb" $(str x) $(str samples) $(str count) $(str main) \
	$sample_type $function1 $location1 $sample1
# a line with no function (function_id 0): google/pprof's "nil function"
bytes "$P/line-without-function.pb" $strings4 $sample_type $function1 \
	$(ld 4 $(vi 1 1) $(ld 4 $(vi 2 10))) $sample1
# the sample has 2 values but there is 1 sample type
bytes "$P/value-count-mismatch.pb" $strings4 $sample_type $function1 $location1 \
	$(ld 2 $(vi 1 1) $(vi 2 5) $(vi 2 6))
# a location (tag 0x22) claiming 0x20 bytes where only 2 follow
bytes "$P/truncated-field.pb" $strings4 $sample_type $function1 $location1 $sample1 22 20 08 01
# field 1 with wire type 7, which does not exist
bytes "$P/bad-wire-type.pb" $strings4 $sample_type $function1 $location1 $sample1 0f 01
# time_nanos twice: google/pprof reads that as concatenated profiles
bytes "$P/two-time-nanos.pb" $strings4 $sample_type $function1 $location1 $sample1 \
	$(vi 9 1) $(vi 9 2)
# a sample but no sample_type
bytes "$P/no-sample-type.pb" $strings4 $function1 $location1 $sample1
# a sample type but not one sample: google/pprof reads it, bpprof refuses it
bytes "$P/no-samples.pb" $strings4 $sample_type $function1 $location1

# Other bad inputs.
: >"$P/empty.pb.gz"
# deterministic "random" bytes: sha256 of "bpprof-e2e:N" for N = 0..127
rand_hex() {
	local i=0
	while [ "$i" -lt "$1" ]; do
		printf 'bpprof-e2e:%d' "$i" | sha256sum | cut -c1-64 | sed 's/../& /g'
		i=$((i + 1))
	done
}
random=$(rand_hex 128) # 4096 bytes
bytes "$P/random.bin" $random
bytes "$P/gzip-magic-garbage.pb.gz" 1f 8b 08 00 $random
bytes "$P/zstd-magic-garbage.pb.zst" 28 b5 2f fd $random
size=$(wc -c <testdata/pprof/parca-profile1.pb.gz)
head -c $((size / 2)) testdata/pprof/parca-profile1.pb.gz >"$P/truncated.pb.gz"
# a valid zstd frame around broken pprof bytes: the pprof decoder must still run
zstd -q -c "$P/string-index-out-of-range.pb" >"$P/zstd-string-index.pb.zst"
gzip -c "$P/huge-varint.pb" >"$P/gzip-huge-varint.pb.gz"
} # end of the byte-list block

t_fixture_bad() { # the reference parser must reject each crafted file
	if "$PPROFCHECK" check "$1" >/dev/null 2>&1; then
		echo "fixture error: google/pprof accepts $1"
		return 1
	fi
}

# fails_cleanly NAME IN OUT [ARGS...]: bpprof convert must fail with one
# stderr line "bpprof: ...NAMED..." and leave OUT's directory as it was.
# NAMED is $NAMED when set (the file the message must name), else IN.
fails_cleanly() {
	local name=$1 in=$2 out=$3 before after rc=0 err lines
	shift 3
	err=$T/err.$name
	before=$(dir_state "$out")
	"$BPPROF" convert "$@" "$in" -o "$out" >"$err.stdout" 2>"$err" </dev/null || rc=$?
	after=$(dir_state "$out")
	[ "$rc" -ne 0 ] || { echo "exit status 0"; return 1; }
	[ "$rc" -lt 128 ] || { echo "killed by signal $((rc - 128)): $(head -3 "$err")"; return 1; }
	lines=$(grep -c '' "$err" || true)
	[ "$lines" -eq 1 ] || { echo "want one stderr line, got $lines: $(head -5 "$err")"; return 1; }
	case $(cat "$err") in
	"bpprof: "*) ;;
	*) echo "stderr does not start with 'bpprof: ': $(cat "$err")"; return 1 ;;
	esac
	grep -qF -- "${NAMED:-$in}" "$err" || { echo "stderr does not name ${NAMED:-$in}: $(cat "$err")"; return 1; }
	[ ! -s "$err.stdout" ] || { echo "wrote $(wc -c <"$err.stdout") bytes to stdout"; return 1; }
	[ "$before" = "$after" ] || { echo "output directory changed: before [$before] after [$after]"; return 1; }
}

t_bad_input() { # t_bad_input FILE [ARGS]: fresh empty output directory
	local name d
	name=$(basename "$1")
	d=$T/out.$name
	mkdir -p "$d"
	fails_cleanly "$name" "$1" "$d/out.pb.gz" "${@:2}"
}

t_bad_keeps_existing() { # an existing output survives a failed conversion
	local d=$T/keep
	mkdir -p "$d"
	printf 'precious\n' >"$d/out.pb.gz"
	fails_cleanly keep "$P/truncated.pb.gz" "$d/out.pb.gz" || return 1
	[ "$(cat "$d/out.pb.gz")" = precious ] || { echo "existing output changed"; return 1; }
}

t_bad_stdout() { # a failed conversion to stdout writes nothing there, nor files
	mkdir -p "$T/stdout-bad" && cd "$T/stdout-bad" || return 1
	fails_cleanly stdout "$P/random.bin" -
}

for f in string-index-out-of-range zero-location-id zero-function-id duplicate-location-id \
	missing-location missing-function huge-varint string0-not-empty value-count-mismatch \
	truncated-field bad-wire-type two-time-nanos no-sample-type line-without-function; do
	check "fixture $f.pb is rejected by google/pprof" t_fixture_bad "$P/$f.pb"
	check "bad pprof: $f fails cleanly" t_bad_input "$P/$f.pb"
done
for f in random.bin gzip-magic-garbage.pb.gz zstd-magic-garbage.pb.zst truncated.pb.gz \
	zstd-string-index.pb.zst gzip-huge-varint.pb.gz; do
	check "bad input: $f fails cleanly" t_bad_input "$P/$f"
done
# google/pprof keeps a string with a NUL byte whole; C strings would cut it,
# so bpprof refuses it rather than change a name silently.
bytes "$P/nul-in-string.pb" $(str '') $(str samples) $(str count) $(ld 6 6d 61 00 69 6e) \
	$sample_type $function1 $location1 $sample1
t_nul_string() {
	t_bad_input "$P/nul-in-string.pb" || return 1
	grep -q 'string 3 at byte [0-9]* holds a NUL byte' "$T/err.nul-in-string.pb" ||
		{ echo "message: $(cat "$T/err.nul-in-string.pb")"; return 1; }
}
check "bad input: a string holding a NUL byte is refused, and says so" t_nul_string
check "bad input: empty file fails cleanly" t_bad_input "$P/empty.pb.gz"
t_no_samples() { # README: input that yields no samples is refused, pprof too
	"$PPROFCHECK" check "$P/no-samples.pb" >/dev/null || { echo "(fixture: google/pprof refuses it)"; return 1; }
	t_bad_input "$P/no-samples.pb" || return 1
	grep -q 'a profile without samples' "$T/err.no-samples.pb" || { echo "message: $(cat "$T/err.no-samples.pb")"; return 1; }
}
check "bad input: a pprof with no samples is refused, as the README says" t_no_samples
check "a NUL byte in folded text is refused as folded (named: skipped), not as pprof" t_folded_nul
check "perf script -F comm,tid,ip,sym is refused, not read as folded thread ids" t_not_folded
check "bad input: random bytes as --from pprof fail cleanly" t_bad_input "$P/random.bin" --from pprof
check "bad input: missing file fails cleanly" t_bad_input "$T/no-such-file.pb.gz"
check "bad input: a directory fails cleanly" t_bad_input "$P"
check "failed conversion leaves an existing output untouched" t_bad_keeps_existing
check "failed conversion to stdout writes nothing" t_bad_stdout

# Output side: the message must name the output file.
t_bad_output() { # t_bad_output NAME OUT
	NAMED=$2 fails_cleanly "$1" testdata/pprof/go-runtime-cpu.pb.gz "$2"
}
mkdir -p "$T/ro"
printf 'not a directory\n' >"$T/plainfile"
if [ "$(id -u)" -eq 0 ]; then
	unwritable=/sys/bpprof-e2e-out.pb.gz # root may write anywhere but sysfs
else
	chmod 555 "$T/ro"
	unwritable=$T/ro/out.pb.gz
fi
check "unwritable output directory fails cleanly" t_bad_output ro "$unwritable"
check "missing output directory fails cleanly" t_bad_output nodir "$T/no/such/dir/out.pb.gz"
check "output directory that is a file fails cleanly" t_bad_output notdir "$T/plainfile/out.pb.gz"

# Bad options: fail with a message from bpprof (a usage hint may follow it)
# and write nothing.
t_bad_option() {
	local name=$1 d=$T/opt.$1 rc=0
	shift
	mkdir -p "$d"
	"$BPPROF" convert "$@" testdata/pprof/go-runtime-cpu.pb.gz -o "$d/out.pb.gz" >/dev/null 2>"$d/err" || rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] || { echo "exit status $rc"; return 1; }
	head -1 "$d/err" | grep -q '^bpprof' || { echo "stderr: $(head -5 "$d/err")"; return 1; }
	[ "$(ls -A "$d")" = err ] || { echo "files written: $(ls -A "$d")"; return 1; }
}
check "bad option: --compress lz4" t_bad_option lz4 --compress lz4
check "bad option: --compress gzip --level 99" t_bad_option level --compress gzip --level 99
check "bad option: --from nonsense" t_bad_option from --from nonsense
check "bad option: --compress zstd --level 23" t_bad_option zlevel --compress zstd --level 23

# One convention for every command (README, "Exit status"): a command line
# that cannot be used exits 2 with "bpprof CMD: ..." and the hint, and does
# nothing; getopt's own errors included (issue 19 item 13).
t_usage_exit() { # t_usage_exit WHAT ARGS...: exit 2, bpprof's words, the hint
	local rc=0 err=$T/usage.err
	"$BPPROF" "$@" >/dev/null 2>"$err" </dev/null || rc=$?
	[ "$rc" = 2 ] || { echo "exit status $rc: $(head -3 "$err")"; return 1; }
	head -1 "$err" | grep -q "^bpprof $1: " || { echo "stderr: $(head -3 "$err")"; return 1; }
	grep -qx "Try 'bpprof help $1'." "$err" || { echo "no hint: $(head -3 "$err")"; return 1; }
}
check "usage: convert --bogus" t_usage_exit convert --bogus testdata/pprof/parca-fib.pb.gz
check "usage: convert -Z (unknown short option)" t_usage_exit convert -Z testdata/pprof/parca-fib.pb.gz
check "usage: convert --from (no value)" t_usage_exit convert testdata/pprof/parca-fib.pb.gz --from
check "usage: convert --from nonsense" t_usage_exit convert --from nonsense testdata/pprof/parca-fib.pb.gz
check "usage: record --bogus" t_usage_exit record --bogus
check "usage: record -F (no value)" t_usage_exit record -F
check "usage: push --bogus" t_usage_exit push --bogus x
check "usage: push --config of a missing file" t_usage_exit push --config "$T/no-such.ini" x --url http://127.0.0.1:9
check "usage: run --bogus" t_usage_exit run --bogus
check "usage: run --config of a missing file" t_usage_exit run --config "$T/no-such.ini" -o "$T"
check "usage: version takes no arguments" t_usage_exit version extra

t_convert_quiet() { # -q as for record and push: no summary line
	"$BPPROF" convert -q testdata/pprof/parca-fib.pb.gz -o "$T/quiet.pb.gz" 2>"$T/quiet.err" ||
		{ echo "failed: $(cat "$T/quiet.err")"; return 1; }
	[ ! -s "$T/quiet.err" ] || { echo "said: $(cat "$T/quiet.err")"; return 1; }
	same_summary testdata/pprof/parca-fib.pb.gz "$T/quiet.pb.gz"
}
check "convert -q converts and says nothing" t_convert_quiet

t_convert_terminal() { # as gzip does: no binary output to a terminal
	local d=$T/tty out
	mkdir -p "$d"
	command -v script >/dev/null || { echo "skipped (no script(1))"; return 0; }
	for cmd in "convert $root/testdata/pprof/parca-fib.pb.gz -o -" \
		"convert - <$root/testdata/pprof/parca-fib.pb.gz" \
		"convert --to folded --compress gzip $root/testdata/pprof/parca-fib.pb.gz -o -"; do
		out=$(cd "$d" && script -qec "$BPPROF $cmd" /dev/null </dev/null 2>&1) && { echo "$cmd: exit 0"; return 1; }
		printf '%s' "$out" | grep -q 'not written to a terminal' || { echo "$cmd: $out" | head -3; return 1; }
	done
	[ -z "$(ls -A "$d")" ] || { echo "files written: $(ls -A "$d")"; return 1; }
	out=$(script -qec "$BPPROF convert --to folded $root/testdata/pprof/parca-two-stacks.pb.gz -o -" /dev/null </dev/null) ||
		{ echo "folded text to a terminal refused: $out"; return 1; }
}
check "convert refuses pprof or compressed output to a terminal, not folded text" t_convert_terminal

# ---- perf script: inlined frames, side-band records, several events ----

t_perf_inline() { # --call-graph dwarf of gcc -O2 -g code: "(inlined)" is no binary
	local out=$T/inline.pb.gz
	convert "$out" testdata/perf/perf-script-inline-dwarf.txt || return 1
	strict "$out" || return 1
	if "$PPROFCHECK" summary -full "$out" | grep -q '"inlined"'; then
		echo "a mapping named inlined"; return 1
	fi
	"$PPROFCHECK" summary -full "$out" | grep -m1 '^mapping:' | grep -q '"/tmp/ps/inl"' ||
		{ echo "first mapping: $("$PPROFCHECK" summary -full "$out" | grep -m1 '^mapping:')"; return 1; }
	"$PPROFCHECK" folded "$out" | grep -qx '_start;__libc_start_main_impl;__libc_start_call_main;main;outer;inner 18' ||
		{ echo "stacks: $("$PPROFCHECK" folded "$out")"; return 1; }
}
check "perf-script inlined frames are lines of their caller's location" t_perf_inline

t_folded_binary_names() { # unsymbolized frames read as pprof shows them: [gzip], not [unknown]
	local out=$T/gzip-dd.folded
	convert "$out" testdata/perf/perf-script-gzip-dd.txt --to folded || return 1
	grep -q '^\[gzip\] [0-9]*$' "$out" || { echo "no [gzip] frame: $(head -3 "$out")"; return 1; }
	[ "$(folded_total "$out")" = 2499 ] || { echo "total $(folded_total "$out"), want 2499"; return 1; }
}
check "folded output names an unsymbolized frame by its binary, as pprof does" t_folded_binary_names

t_perf_side_band() { # --header --show-task/mmap/switch/namespace-events
	local out=$T/side-band.pb.gz
	convert "$out" testdata/perf/perf-script-side-band-header.txt || return 1
	! grep -q warning "$out.stderr" || { cat "$out.stderr"; return 1; }
	[ "$("$PPROFCHECK" total "$out" samples/count)" = 12 ] || { echo "total $("$PPROFCHECK" total "$out" samples/count), want 12"; return 1; }
	"$PPROFCHECK" summary "$out" | grep -qx 'period_type: cpu/nanoseconds' || { "$PPROFCHECK" summary "$out" | head -4; return 1; }
}
check "perf-script side-band records and --header are no samples" t_perf_side_band

t_perf_long_header() { # perf script -I on a 256-CPU machine: the header outgrows detection's window
	local in=$T/long-header.perf out=$T/long-header.pb.gz i
	{
		head -1 testdata/perf/perf-script-side-band-header.txt
		for i in $(seq 0 255); do echo "# CPU $i: Core ID $i, Die ID 0, Socket ID 0"; done
		tail -n +2 testdata/perf/perf-script-side-band-header.txt
	} >"$in"
	convert "$out" "$in" || return 1
	grep -q '(perf-script)' "$out.stderr" || { echo "not read as perf script: $(cat "$out.stderr")"; return 1; }
	same_summary "$T/side-band.pb.gz" "$out"
}
check "perf-script after a long --header is detected as perf script" t_perf_long_header

t_perf_two_events() { # perf record -e page-faults -e cpu-clock: the first event only
	local in=testdata/perf/perf-script-page-faults-cpu-clock.txt out=$T/two-events.pb.gz want
	convert "$out" "$in" || return 1
	want=$(grep -c ' page-faults: *$' "$in")
	[ "$("$PPROFCHECK" total "$out" samples/count)" = "$want" ] || { echo "total $("$PPROFCHECK" total "$out" samples/count), want $want"; return 1; }
	"$PPROFCHECK" summary "$out" | grep -qx 'period_type: page-faults/count' || { "$PPROFCHECK" summary "$out" | head -4; return 1; }
	grep -qF "6 samples of other events than 'page-faults' skipped, the first at line 21; a profile holds one event" "$out.stderr" ||
		{ echo "warning: $(cat "$out.stderr")"; return 1; }
}
check "perf-script of two events holds the first, warns of the other" t_perf_two_events

t_perf_no_callchain() { # perf script -F comm,tid,time,event,ip,sym without -g
	local out=$T/no-callchain.pb.gz
	convert "$out" testdata/perf/perf-script-no-callchain.txt || return 1
	! grep -q warning "$out.stderr" || { cat "$out.stderr"; return 1; }
	[ "$("$PPROFCHECK" total "$out" samples/count)" = 26 ] || { echo "total $("$PPROFCHECK" total "$out" samples/count)"; return 1; }
	"$PPROFCHECK" folded "$out" | grep -qx 'page_counter_charge 1' || { "$PPROFCHECK" folded "$out"; return 1; }
}
check "perf-script without call chains keeps the sampled IP" t_perf_no_callchain

# Text that yields no samples is refused, not written as an empty profile.
grep '^#' testdata/perf/perf-script-side-band-header.txt >"$P/header-only.perf"
printf 'a;b 0\nc 0\n' >"$P/zero-counts.folded"
for f in header-only.perf zero-counts.folded; do
	check "bad input: $f (no samples) fails cleanly" t_bad_input "$P/$f"
done
check "bad input: header-only.perf --from perf-script fails cleanly" t_bad_input "$P/header-only.perf" --from perf-script


# ---- legacy formats: what go tool pprof -proto makes of the same file ----
# google/pprof's own fixtures (and their re-encodings in every word size and
# byte order), then profiles gperftools itself writes of tests/legacy/gperf.
# Same sample types, units, period, totals, drop/keep frames, mappings,
# and stacks as address lists (summary -full -labels).

LEGACY_WL=${LEGACY_WL:-$build/legacy/gperf}
gopprof() { GOCACHE="$build/gocache" GO111MODULE=off GOFLAGS= "${GO:-go}" tool pprof "$@"; }
mkdir -p "$T/legacy"

t_legacy() { # t_legacy FILE FORMAT: converted as go tool pprof reads it
	local in=$1 b
	b=$(basename "$in")
	convert "$T/legacy/$b.pb.gz" "$in" || return 1
	grep -qF "($2)" "$T/legacy/$b.pb.gz.stderr" || { echo "read as: $(cat "$T/legacy/$b.pb.gz.stderr")"; return 1; }
	strict "$T/legacy/$b.pb.gz" || return 1
	gopprof -proto -symbolize=none "$in" >"$T/legacy/$b.want.pb.gz" 2>"$T/legacy/$b.want.err" ||
		{ echo "go tool pprof: $(cat "$T/legacy/$b.want.err")"; return 1; }
	same_summary "$T/legacy/$b.want.pb.gz" "$T/legacy/$b.pb.gz"
}
legacy_format() {
	case $1 in
	java.contention | java.heap) echo java ;;
	*.cpu) echo gperftools-cpu ;;
	*.heap | *.growth) echo heap-text ;;
	*.thread.* | cppbench.thread) echo threadz ;;
	go.*.thread) echo go-count ;;
	*.contention) echo contention-text ;;
	esac
}
for in in testdata/legacy/*; do
	b=$(basename "$in")
	case $b in LICENSE* | README*) continue ;; esac
	check "legacy $b: same profile as go tool pprof -proto" t_legacy "$in" "$(legacy_format "$b")"
done

t_gperftools() { # gperftools' own output of a program of ours
	local f
	(cd "$T/legacy" && CPUPROFILE=$T/legacy/gperf.cpu CPUPROFILE_FREQUENCY=500 \
		HEAPPROFILE=$T/legacy/gperf.hprof TCMALLOC_SAMPLE_PARAMETER=524288 \
		"$LEGACY_WL" "$T/legacy/gperf.sample" "$T/legacy/gperf.growth" 1 >/dev/null 2>&1) ||
		{ echo "$LEGACY_WL failed"; return 1; }
	t_legacy "$T/legacy/gperf.cpu" gperftools-cpu || return 1
	[ "$("$PPROFCHECK" total "$T/legacy/gperf.cpu.pb.gz" samples/count)" -gt 100 ] ||
		{ echo "few CPU samples: $("$PPROFCHECK" total "$T/legacy/gperf.cpu.pb.gz" samples/count)"; return 1; }
	for f in gperf.hprof.0001.heap gperf.sample gperf.growth; do
		t_legacy "$T/legacy/$f" heap-text || { echo "($f)"; return 1; }
	done
	head -1 "$T/legacy/gperf.sample" | grep -q '@ heap_v2/524288$' || { echo "not sampled: $(head -1 "$T/legacy/gperf.sample")"; return 1; }
	head -1 "$T/legacy/gperf.hprof.0001.heap" | grep -q '@ heapprofile$' || { echo "$(head -1 "$T/legacy/gperf.hprof.0001.heap")"; return 1; }
}
[ -x "$LEGACY_WL" ] && check "gperftools' CPU, heap, sampled heap and growth profiles of our workload: as go tool pprof reads them" t_gperftools

t_gperftools_symbolized() { # convert --symbolize names the workload's known functions
	local top
	[ -s "$T/legacy/gperf.cpu" ] || { echo "(no gperf.cpu: t_gperftools failed)"; return 1; }
	convert "$T/legacy/gperf.sym.pb.gz" "$T/legacy/gperf.cpu" --symbolize || return 1
	strict "$T/legacy/gperf.sym.pb.gz" || return 1
	grep -q 'symbolize: [0-9]* of [0-9]* addresses named' "$T/legacy/gperf.sym.pb.gz.stderr" ||
		{ echo "said: $(cat "$T/legacy/gperf.sym.pb.gz.stderr")"; return 1; }
	top=$("$PPROFCHECK" top "$T/legacy/gperf.sym.pb.gz" | head -1)
	[ "${top#* * }" = "bpprof::hot_loop(double)" ] || { echo "top: $top"; return 1; }
	# the same samples, now with names
	[ "$("$PPROFCHECK" total "$T/legacy/gperf.sym.pb.gz" cpu)" = "$("$PPROFCHECK" total "$T/legacy/gperf.cpu.pb.gz" cpu)" ] ||
		{ echo "cpu total changed"; return 1; }
	# and go tool pprof shows it, drop_frames applied
	gopprof -top -symbolize=none "$T/legacy/gperf.sym.pb.gz" 2>/dev/null | grep -q 'bpprof::hot_loop' ||
		{ echo "go tool pprof -top: $(gopprof -top -symbolize=none "$T/legacy/gperf.sym.pb.gz" 2>&1 | head -12)"; return 1; }
	convert "$T/legacy/gperf.heap.sym.pb.gz" "$T/legacy/gperf.hprof.0001.heap" --symbolize || return 1
	top=$("$PPROFCHECK" top -type inuse_space "$T/legacy/gperf.heap.sym.pb.gz" | head -1)
	[ "${top#* * }" = "bpprof::keep_block(unsigned long)" ] || { echo "heap top: $top"; return 1; }
}
[ -x "$LEGACY_WL" ] && check "gperftools profiles of our workload, --symbolize: bpprof::hot_loop and keep_block on top" t_gperftools_symbolized

t_symbolize_gone() { # a binary no longer here: addresses kept, said once, exit 0
	local d=$T/legacy/gone
	mkdir -p "$d"
	cp "$LEGACY_WL" "$d/gperf-copy"
	(cd "$d" && CPUPROFILE=$d/copy.cpu CPUPROFILE_FREQUENCY=500 ./gperf-copy "$d/s" "$d/g" 0.3 >/dev/null 2>&1) ||
		{ echo "workload failed"; return 1; }
	rm "$d/gperf-copy"
	convert "$d/copy.pb.gz" "$d/copy.cpu" --symbolize || return 1
	grep -qF "in files that cannot be read here or are another build, the first in $d/gperf-copy" "$d/copy.pb.gz.stderr" ||
		{ echo "said: $(cat "$d/copy.pb.gz.stderr")"; return 1; }
	convert "$d/plain.pb.gz" "$d/copy.cpu" || return 1
	"$PPROFCHECK" summary -full "$d/plain.pb.gz" | grep -v '^0x' | grep -F "gperf-copy" >"$d/plain.maps"
	"$PPROFCHECK" summary -full "$d/copy.pb.gz" | grep -v '^0x' | grep -F "gperf-copy" >"$d/sym.maps"
	cmp -s "$d/plain.maps" "$d/sym.maps" || { echo "the gone binary's frames changed"; diff "$d/plain.maps" "$d/sym.maps" | head -5; return 1; }
}
[ -x "$LEGACY_WL" ] && check "convert --symbolize with the binary gone keeps its addresses and says so" t_symbolize_gone

# Cut short or corrupted: one line naming the file and the problem, exit 1,
# no output. A cut is moved off a line's end, where text would be whole.
t_legacy_cut() {
	local in=$1 b n
	b=$(basename "$in")
	n=$(($(wc -c <"$in") / 2))
	while [ "$(tail -c +"$n" "$in" | head -c 1 | od -An -c | tr -d ' ')" = '\n' ]; do n=$((n + 1)); done
	head -c "$n" "$in" >"$P/cut.$b"
	t_bad_input "$P/cut.$b"
}
for in in testdata/legacy/*; do
	b=$(basename "$in")
	case $b in LICENSE* | README*) continue ;; esac
	check "legacy $b cut short fails cleanly" t_legacy_cut "$in"
done
# one defect each, where the format has a fixed shape
corrupt() { # corrupt NAME FROM LINE_NO TEXT: FROM with TEXT inserted after line LINE_NO
	{ head -n "$3" "testdata/legacy/$2"; printf '%s\n' "$4"; tail -n +"$(($3 + 1))" "testdata/legacy/$2"; } >"$P/$1"
}
corrupt bad-sample.heap cppbench.heap 3 '1: 2 [3: 4] @ 0x1 ok?'
corrupt bad-attr.contention cppbench.contention 2 'speed = 3'
corrupt bad-sample.contention cppbench.contention 7 '12 @ 0x1'
corrupt bad-map.contention cppbench.contention 14 'not a mapping'
corrupt bad-count.thread go.godoc.thread 2 '1 @ 0x44cb3  0x45045'
corrupt bad-section.thread cppbench.thread 5 '--- not a thread ---'
corrupt bad-location.heapz java.heap 20 'garbage here'
# the first sample claims 2^32 - 1 frames
{ head -c 48 testdata/legacy/cppbench.cpu; printf '\377\377\377\377\0\0\0\0'; tail -c +57 testdata/legacy/cppbench.cpu; } >"$P/bad-depth.cpu"
for f in bad-sample.heap bad-attr.contention bad-sample.contention bad-map.contention bad-count.thread \
	bad-section.thread bad-location.heapz bad-depth.cpu; do
	check "legacy corrupted: $f fails cleanly" t_bad_input "$P/$f"
done
t_legacy_message() { # the format it looked like and the first line that does not fit
	t_bad_input "$P/bad-sample.heap" || return 1
	grep -qF "looks like a heap profile ('heap profile:'), but line 4: expected a heap sample" "$T/err.bad-sample.heap" ||
		{ echo "message: $(cat "$T/err.bad-sample.heap")"; return 1; }
}
check "a refused legacy text says what it looked like and which line does not fit" t_legacy_message
t_contention_not_folded() { # issue 20: cppbench.contention was read as folded stacks
	convert "$T/contention.pb.gz" testdata/legacy/cppbench.contention || return 1
	[ "$("$PPROFCHECK" summary "$T/contention.pb.gz" | sed -n 's/^sample_types: //p')" = "contentions/count delay/nanoseconds" ] || return 1
	[ "$("$PPROFCHECK" total "$T/contention.pb.gz" contentions)" = 3500 ] || return 1
	[ "$("$PPROFCHECK" total "$T/contention.pb.gz" delay)" = 690508213 ] || return 1
}
check "cppbench.contention: contentions 3500, delay 690508213 ns, not folded stacks" t_contention_not_folded

# ---- output targets that are not plain new files ----

# 300000 distinct stacks: long enough to write that a signal can land mid-write.
awk 'BEGIN { for (i = 0; i < 300000; i++) printf "main;f%d;g%d 1\n", i % 1000, i }' >"$T/big.folded"

t_out_device() { # a device stays a device: written through, never replaced
	local d=$T/dev
	mkdir -p "$d"
	mknod "$d/null" c 1 3 2>/dev/null || { echo "skipped (mknod needs root)"; return 0; }
	"$BPPROF" convert "$P/good.pb" -o "$d/null" 2>"$d/err" || { echo "failed: $(cat "$d/err")"; return 1; }
	[ -c "$d/null" ] || { echo "$d/null is no longer a character device: $(ls -l "$d/null")"; return 1; }
	[ "$(ls -A "$d")" = "$(printf 'err\nnull')" ] || { echo "left behind: $(ls -A "$d")"; return 1; }
}
check "-o a character device writes through it and keeps it a device" t_out_device

t_out_stdout_link() { # a symlink to /proc/self/fd/1 writes into the pipe, like -o -
	ln -s /proc/self/fd/1 "$T/stdout-link"
	"$BPPROF" convert "$P/good.pb" -o - >"$T/stdout.want" || return 1
	"$BPPROF" convert "$P/good.pb" -o "$T/stdout-link" | cat >"$T/stdout.got" || return 1
	[ -L "$T/stdout-link" ] || { echo "the link was replaced by a file"; return 1; }
	cmp -s "$T/stdout.want" "$T/stdout.got" || { echo "output differs from -o -"; return 1; }
}
check "-o a link to /proc/self/fd/1 writes the pipe, like -o -" t_out_stdout_link

t_out_symlink() { # the link stays a link; its target gets the profile
	local d=$T/symlink
	mkdir -p "$d/real"
	printf 'old\n' >"$d/real/out.pb.gz"
	ln -s real/out.pb.gz "$d/link.pb.gz"
	convert "$d/link.pb.gz" "$P/good.pb" || return 1
	[ -L "$d/link.pb.gz" ] || { echo "link.pb.gz was replaced by a regular file"; return 1; }
	same_summary "$P/good.pb" "$d/real/out.pb.gz" || return 1
	[ "$(ls -A "$d/real")" = out.pb.gz ] || { echo "left behind: $(ls -A "$d/real")"; return 1; }
}
check "-o a symlink updates its target and keeps the link" t_out_symlink

t_out_killed() { # killed mid-write (a background job ignores SIGINT, so
	# KILL, which no handler could clean up after): no temporary file left
	local d=$T/killed i pid
	mkdir -p "$d"
	for i in 1 2 3; do
		"$BPPROF" convert "$T/big.folded" -o "$d/out.pb.gz" 2>/dev/null &
		pid=$!
		# Signal once it holds a file in $d open, so it lands mid-write.
		until ls -l "/proc/$pid/fd" 2>/dev/null | grep -qF "$d/"; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.01
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" || true
	done
	! ls -A "$d" | grep -qv '^out\.pb\.gz$' || { echo "left behind: $(ls -A "$d")"; return 1; }
}
check "convert killed mid-write leaves no temporary file" t_out_killed

t_out_too_big() { # t_out_too_big NAME IN OUT [ARGS]: over `ulimit -f`, one line naming OUT
	local d=$T/fsize.$1
	mkdir -p "$d"
	(ulimit -f 1; NAMED=$d/$3 fails_cleanly "fsize.$1" "$2" "$d/$3" "${@:4}") || return 1
	grep -qF "cannot write $d/$3: File too large" "$T/err.fsize.$1" || { echo "message: $(cat "$T/err.fsize.$1")"; return 1; }
}
check "pprof output over ulimit -f fails cleanly, naming the file" t_out_too_big pprof "$T/big.folded" out.pb.gz
check "folded output over ulimit -f fails cleanly, naming the file" t_out_too_big folded \
	testdata/pprof/parca-alloc_objects.pb.gz out.folded --to folded

t_out_dir() { # t_out_dir NAME OUT: a directory as OUT is refused, and says so
	NAMED=$2 fails_cleanly "$1" "$P/good.pb" "$2" || return 1
	grep -qF "$2 is a directory" "$T/err.$1" || { echo "message: $(cat "$T/err.$1")"; return 1; }
}
mkdir -p "$T/outdir/d"
check "-o an existing directory is refused" t_out_dir outdir "$T/outdir/d"
check "-o dir/ is refused" t_out_dir outdir-slash "$T/outdir/d/"

t_out_umask() { # the output's mode follows umask, as any new file's would
	local mode
	(umask 027 && convert "$T/umask.pb.gz" "$P/good.pb") || return 1
	mode=$(stat -c %a "$T/umask.pb.gz")
	[ "$mode" = 640 ] || { echo "mode $mode under umask 027, want 640"; return 1; }
}
check "output mode follows umask" t_out_umask

# ---- compressed input framing, as Go's readers see it ----

t_gzip_members() { # concatenated gzip members are one stream, as for gzip -d and Go
	gzip -dc "$T/hand.pb.gz" >"$T/members.raw" || return 1
	{ head -c 20 "$T/members.raw" | gzip -c; tail -c +21 "$T/members.raw" | gzip -c; } >"$T/members.pb.gz"
	convert "$T/members.out.pb.gz" "$T/members.pb.gz" || return 1
	same_summary "$T/hand.pb.gz" "$T/members.out.pb.gz"
}
check "gzip input of two members reads as one" t_gzip_members
t_gzip_trailing() { # Go's reader refuses bytes after the gzip data, padding included
	{ cat "$T/hand.pb.gz"; head -c 512 /dev/zero; } >"$T/padded.pb.gz"
	t_bad_input "$T/padded.pb.gz" || return 1
	grep -q 'trailing garbage' "$T/err.padded.pb.gz" || { echo "message: $(cat "$T/err.padded.pb.gz")"; return 1; }
}
check "gzip input with trailing zero bytes is refused" t_gzip_trailing

# ---- 7. version ----

t_version() {
	local v lib
	v=$("$BPPROF" version 2>&1) || { echo "exit status non-zero: $v"; return 1; }
	printf '%s\n' "$v" | head -1 | grep -q bpprof || { echo "first line does not name bpprof: $v"; return 1; }
	printf '%s\n' "$v" | grep -q '[0-9]' || { echo "no version number: $v"; return 1; }
	for lib in zlib zstd protobuf-c; do
		printf '%s\n' "$v" | grep -Eiq "${lib}[^0-9a-z]*[0-9]+\.[0-9]+" || { echo "no $lib version in: $v"; return 1; }
	done
}
check "bpprof version names itself, zlib, zstd, protobuf-c" t_version

finish
