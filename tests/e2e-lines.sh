#!/usr/bin/env bash
# End-to-end tests of source lines and inline frames: profile
# tests/workloads/inline (built -O2 -g; mix_step is always_inline into churn,
# itself always_inline into spin; lines found by their marker comments) and
# glibc's strtod, and judge every location's Lines against the peers:
# binutils' addr2line -f -i and llvm-symbolizer --inlines, which read the
# same DWARF their own way (for glibc llvm-symbolizer only: binutils 2.40
# names the wrong file for some of its inlined frames). Then what
# go tool pprof shows (-lines -top, -list), a copy stripped of its debug
# info, one whose debug info is found through .gnu_debuglink, --no-lines
# (flag and config key) and convert. Needs root; without it "skip".
#   BUILD=build tests/e2e-lines.sh       (make e2e-lines)
#   WORKLOADS=DIR, BPPROF=, PPROFCHECK=, KEEP=1, ONLY=REGEX as in tests/lib.sh
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e-lines: skip: needs root (bpprof record loads BPF programs and opens perf events)"
	exit 0
fi
SUITE=e2e-lines
EXCLUSIVE=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
WL=$(cd -P "${WORKLOADS:-$build/workloads}" 2>/dev/null && pwd) ||
	{ echo "$SUITE: no workloads in ${WORKLOADS:-$build/workloads} (make workloads)" >&2; exit 2; }
LEGACY_WL=${LEGACY_WL:-$build/legacy/gperf}
need_tools "$BPPROF" "$PPROFCHECK" "$WL/inline" "$WL/alloc" "$LEGACY_WL"
for tool in addr2line llvm-symbolizer objcopy strip readelf go; do
	command -v "$tool" >/dev/null || { echo "$SUITE: no $tool (make deps)" >&2; exit 2; }
done
GOENV=(env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$build/gocache" GOFLAGS=)

LIMIT=60
HZ=499
SRC=$root/tests/workloads/inline.c
# marker NAME: the line of inline.c that ends with "// NAME"
marker() { grep -n "// $1\$" "$SRC" | cut -d: -f1; }
# decl FUNC: the line where inline.c defines FUNC
decl() { grep -n "^[a-z_ ()]*[ *]$1(" "$SRC" | head -1 | cut -d: -f1; }

# rec OUT ARGS...: bpprof record -o $T/OUT ARGS: exit 0, a profile that
# google/pprof reads with ids 1..N.
rec() {
	local out=$T/$1 rc=0
	shift
	rm -f "$out"
	timeout -k 5 "$LIMIT" "$BPPROF" record -o "$out" "$@" </dev/null >"$out.out" 2>"$out.err" || rc=$?
	[ "$rc" -eq 0 ] || { echo "bpprof record $* exited $rc: $(tail -5 "$out.err")"; return 1; }
	[ -s "$out" ] || { echo "bpprof record $* wrote no $out"; return 1; }
	strict "$out"
}
have() { [ -s "$1" ] || { echo "no profile $1 (its record check failed)"; return 1; }; }

# lines_of FILE: pprofcheck's "loc" lines (tab-separated: mapping, address,
# file offset, flat and cum samples, then name, system name, file, line,
# start per Line: fields 7-11 for the first)
lines_of() { "$PPROFCHECK" lines "$1" | awk -F'\t' '$1 == "loc"'; }
# mapping_flags FILE BINARY: "functions filenames line_numbers inline_frames"
# (0/1) of each mapping of BINARY, one line each
mapping_flags() { "$PPROFCHECK" lines "$1" | awk -F'\t' -v b="$2" '$1 == "mapping" && $2 == b { print $3, $4, $5, $6 }'; }

# hex(S): the number a "0x..." string spells (mawk has no strtonum)
HEX='function hex(s,  i, v) { s = tolower(s); sub(/^0x/, "", s); v = 0
	for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }'

# vaddrs BINARY: stdin file offsets (0x...), stdout the ELF virtual
# addresses the peers take, through BINARY's PT_LOAD segments
vaddrs() {
	awk "$HEX"'FNR == NR { if ($1 == "LOAD") { n++; off[n] = hex($2); va[n] = hex($3); sz[n] = hex($5) }; next }
		{ o = hex($1); v = -1
		  for (i = 1; i <= n; i++) if (o >= off[i] && o < off[i] + sz[i]) v = o - off[i] + va[i]
		  printf "0x%x\n", v }' <(readelf -lW "$1") -
}

# ours FILE BINARY: per location of BINARY "0xVADDR<TAB>name@file:line|..."
# (the system name, as the peers print it without demangling), the Lines
# that have a file and a line: what DWARF gave (a name from the symbol table
# alone is the symbolizer's older business, and the peers differ on it:
# llvm-symbolizer names PLT stubs after the symbol before them), sorted by
# address; its scratch files in $W
ours() {
	local f=$1 bin=$2
	lines_of "$f" | awk -F'\t' -v b="$bin" '$2 == b { print $4 }' | vaddrs "$bin" >"$W/ours.va"
	lines_of "$f" | awk -F'\t' -v b="$bin" '$2 == b {
			s = ""; for (i = 7; i + 4 <= NF; i += 5) if ($(i + 2) != "" && $(i + 3) != 0)
				s = s (s == "" ? "" : "|") $(i + 1) "@" $(i + 2) ":" $(i + 3)
			print s }' | paste "$W/ours.va" - | LC_ALL=C sort -u
}

# peer TOOL BINARY: the same, from TOOL (addr2line or llvm) for the
# addresses in $W/addrs; an answer without a line ("??:0", or a unit's
# file with line "?" or "0", as addr2line and llvm-symbolizer give
# crtstuff.c's __do_global_dtors_aux) is no Line
peer() {
	local tool=$1 bin=$2
	if [ "$tool" = addr2line ]; then
		addr2line -a -f -i -e "$bin" <"$W/addrs"
	else
		llvm-symbolizer --inlines --no-demangle --output-style=GNU -a --obj="$bin" <"$W/addrs"
	fi | awk "$HEX"'/^0x[0-9a-f]+$/ { if (n) print a "\t" s; a = sprintf("0x%x", hex($0)); s = ""; n = 1; fn = ""; next }
		fn == "" { fn = $0; next }
		{ sub(/ \(discriminator [0-9]+\)$/, ""); if ($0 !~ /^\?\?:/ && $0 !~ /:(\?|0)$/) s = s (s == "" ? "" : "|") fn "@" $0; fn = "" }
		END { if (n) print a "\t" s }' | LC_ALL=C sort -u
}

# same_lines OURS PEER SYMS: per address the same Lines: each file:line,
# and each name, except the outermost's: bpprof gives it the symbol
# table's name (so a frame reads the same with lines and without), which
# may be another alias than the peer's, or a compiler clone's name
# (str_to_mpn.part.0.constprop.0 where the DWARF says str_to_mpn); it must
# be a symbol of SYMS (nm -S: "address size type name") that covers the
# address. Prints each address that differs.
same_lines() {
	awk -F'\t' -v ours="$1" -v peer="$2" "$HEX"'
		FILENAME != ours && FILENAME != peer { split($0, w, " "); lo = hex(w[1])
			span[w[4]] = span[w[4]] " " lo ":" (lo + hex(w[2])); next }
		FILENAME == ours { o[$1] = $2; next }
		{ p[$1] = $2 }
		function covers(name, addr,  k, m, r, q) {
			m = split(span[name], r, " ")
			for (k = 1; k <= m; k++) { split(r[k], q, ":"); if (addr >= q[1] && addr < q[2] + 0) return 1 }
			return 0 }
		END { for (a in o) {
			n = split(o[a], x, "|"); m = split(p[a], y, "|"); ok = n == m
			for (i = 1; ok && i <= n; i++) {
				# name@file:line, the name maybe versioned (f@@GLIBC_2.2.5)
				match(x[i], /@[^@]*$/); xn = substr(x[i], 1, RSTART - 1); xl = substr(x[i], RSTART)
				match(y[i], /@[^@]*$/); yn = substr(y[i], 1, RSTART - 1); yl = substr(y[i], RSTART)
				ok = xl == yl && (xn == yn || (i == n && covers(xn, hex(a))))
			}
			if (!ok) { print a ": ours " o[a] "; peer " p[a]; bad++ } }
		  exit bad > 0 }' "$3" "$1" "$2"
}

# agree FILE BINARY SYMBOLS TOOL...: every location of BINARY in FILE has
# the Lines each TOOL gives for its address (SYMBOLS: the ELF file with
# BINARY's symbol table); prints the first differences
agree() {
	local f=$1 bin=$2 symf=$3 tool n
	shift 3
	W=$(mktemp -d "$T/agree.XXXXXX") # kept for a look after a failure
	ours "$f" "$bin" >"$W/ours"
	n=$(wc -l <"$W/ours")
	[ "$n" -gt 0 ] || { echo "no location in $bin"; return 1; }
	cut -f1 "$W/ours" >"$W/addrs"
	nm -S --defined-only "$symf" | awk 'NF == 4' >"$W/syms"
	for tool in "$@"; do
		peer "$tool" "$bin" >"$W/$tool"
		same_lines "$W/ours" "$W/$tool" "$W/syms" >"$W/diff.$tool" ||
			{ echo "$bin: $tool disagrees at $(wc -l <"$W/diff.$tool") of $n locations ($W):"; head -5 "$W/diff.$tool" | cut -c1-400; return 1; }
	done
}

# honest_flags FILE: each mapping's has_functions, has_filenames and
# has_line_numbers are set exactly where every one of its locations has a
# function, a file and a line on every Line; has_inline_frames only where
# all came from DWARF (so every Line has a file). Mappings without a
# location are left out: a legacy profile lists every mapping of its process.
honest_flags() {
	"$PPROFCHECK" lines "$1" | awk -F'\t' '
		$1 == "mapping" { m[$2] = $3 " " $4 " " $5 " " $6; next }
		$1 == "loc" && $2 != "" { seen[$2] = 1; if (NF < 11) nofn[$2] = 1
			for (i = 7; i + 4 <= NF; i += 5) { if ($(i + 2) == "") nofi[$2] = 1; if ($(i + 3) == 0) noli[$2] = 1 }
			if (NF < 11) { nofi[$2] = 1; noli[$2] = 1 } }
		END { for (b in m) { if (!seen[b]) continue; split(m[b], f, " ")
			if (f[1] != !nofn[b]) { print b ": has_functions " f[1] ", locations say " !nofn[b]; bad = 1 }
			if (f[2] != !nofi[b]) { print b ": has_filenames " f[2] ", locations say " !nofi[b]; bad = 1 }
			if (f[3] != !noli[b]) { print b ": has_line_numbers " f[3] ", locations say " !noli[b]; bad = 1 }
			if (f[4] && nofi[b]) { print b ": has_inline_frames, yet a Line has no file"; bad = 1 } }
			exit bad }'
}

IL=$T/inline.pb.gz
LIBC=$(ldd "$WL/inline" | awk '$1 ~ /^libc\.so/ { print $3 }')
LIBC=$(readlink -f "$LIBC")
# the machine decides what glibc's frames get: lines when a debug file of
# its build-id is installed (libc6-dbg), names only when not
LIBC_ID=$(readelf -n "$LIBC" | awk '/Build ID:/ { print $3 }')
LIBC_DBG=/usr/lib/debug/.build-id/${LIBC_ID:0:2}/${LIBC_ID:2}.debug

# ---- 1. the workload: inline chains at their lines, as the peers read them ----

t_record() { rec inline.pb.gz --cache-dir "$T/cache" -F $HZ -- "$WL/inline" 3 libc; }
check "record -- inline (-O2 -g, always_inline) with glibc's strtod: a valid profile" t_record

t_chain() { # the hottest leaf address is inside all three, each at its line
	have "$IL" || return 1
	local want got
	want=$(printf 'mix_step\t%s\t%s\t%s\tchurn\t%s\t%s\t%s\tspin\t%s\t%s\t%s' \
		"$SRC" "$(marker HOT)" "$(decl mix_step)" "$SRC" "$(marker CALL_STEP)" "$(decl churn)" \
		"$SRC" "$(marker CALL_CHURN)" "$(decl spin)")
	got=$(lines_of "$IL" | awk -F'\t' -v b="$WL/inline" '$2 == b' | sort -t$'\t' -k5,5nr | head -1 |
		cut -f7- | awk -F'\t' '{ for (i = 1; i + 4 <= NF; i += 5) printf "%s%s\t%s\t%s\t%s", (i > 1 ? "\t" : ""), $i, $(i + 2), $(i + 3), $(i + 4) }')
	[ "$got" = "$want" ] || { echo "hottest location's Lines: [$got], want [$want]"; return 1; }
}
check "the hottest leaf address: mix_step at HOT, inlined into churn at CALL_STEP, into spin at CALL_CHURN (innermost first)" t_chain

t_peers_workload() { have "$IL" && agree "$IL" "$WL/inline" "$WL/inline" addr2line llvm; }
check "every location of the workload: the Lines addr2line -f -i and llvm-symbolizer --inlines give" t_peers_workload

t_peers_libc() {
	have "$IL" || return 1
	if [ ! -f "$LIBC_DBG" ]; then # no debug file: names, no lines
		lines_of "$IL" | awk -F'\t' -v b="$LIBC" '$2 == b && NF > 6 && ($9 != "" || $10 != 0) { bad = 1 } END { exit bad }' ||
			{ echo "glibc frames have lines, yet $LIBC_DBG is not installed"; return 1; }
		return 0
	fi
	local n
	n=$(lines_of "$IL" | awk -F'\t' -v b="$LIBC" '$2 == b && NF > 6 && $9 ~ /strtod/ && $10 > 0' | wc -l)
	[ "$n" -ge 3 ] || { echo "only $n glibc locations in strtod's files with lines"; return 1; }
	agree "$IL" "$LIBC" "$LIBC_DBG" llvm
}
check "glibc's frames: with libc6-dbg, the Lines llvm-symbolizer --inlines gives (names only without)" t_peers_libc

t_cache_warm() { # libc6-dbg's sections are compressed: kept inflated, mapped by the next run
	have "$IL" || return 1
	[ -f "$LIBC_DBG" ] || { echo "no $LIBC_DBG (make deps installs libc6-dbg)"; return 1; }
	local before after
	before=$(stat -c '%i %n' "$T/cache"/*.img 2>/dev/null) || true
	[ -n "$before" ] || { echo "the first record left no image in $T/cache"; return 1; }
	rec inline-warm.pb.gz --cache-dir "$T/cache" -F $HZ -- "$WL/inline" 3 libc || return 1
	after=$(stat -c '%i %n' "$T/cache"/*.img)
	# each image the first run wrote is reused (the same file); the second
	# run's samples may reach more debug files, each with an image of its own
	[ -z "$(comm -23 <(sort <<<"$before") <(sort <<<"$after"))" ] ||
		{ echo "images rewritten, not reused: [$before] then [$after]"; return 1; }
	agree "$T/inline-warm.pb.gz" "$LIBC" "$LIBC_DBG" llvm
}
check "record again with the cache warm (libc6-dbg's image mapped, not inflated): glibc's Lines as llvm-symbolizer gives them" t_cache_warm

t_flags() { have "$IL" && honest_flags "$IL"; }
check "mapping flags: has_functions, has_filenames, has_line_numbers exactly where every location has them" t_flags

# ---- 2. what go tool pprof shows ----

t_go_top() {
	have "$IL" || return 1
	"${GOENV[@]}" go tool pprof -symbolize=none -lines -top "$IL" >"$T/top.txt" 2>&1 ||
		{ echo "go tool pprof -lines -top failed: $(head -5 "$T/top.txt")"; return 1; }
	grep -qE " mix_step $SRC:$(marker HOT) \(inline\)\$" "$T/top.txt" ||
		{ echo "no 'mix_step $SRC:$(marker HOT) (inline)' in: $(head -14 "$T/top.txt")"; return 1; }
}
check "go tool pprof -lines -top: mix_step at its HOT line, marked inline" t_go_top

t_go_list() {
	have "$IL" || return 1
	"${GOENV[@]}" go tool pprof -symbolize=none -list '^mix_step$' "$IL" >"$T/list.txt" 2>&1 ||
		{ echo "go tool pprof -list failed: $(head -5 "$T/list.txt")"; return 1; }
	# the HOT line of the source, with samples (a duration) in its flat column
	grep -E "^ +[0-9.]+[a-z]*s +[0-9.]+[a-z]*s +$(marker HOT):.*// HOT\$" "$T/list.txt" >/dev/null ||
		{ echo "no sampled HOT line in: $(head -20 "$T/list.txt")"; return 1; }
}
check "go tool pprof -list mix_step: prints its source, samples on the HOT line" t_go_list

t_heap() { # a heap stack starts at the allocator's return: looked up as the call
	local asrc=$root/tests/workloads/alloc.c want got
	rec heap.pb.gz --heap --heap-rate 0 -- "$WL/alloc" -n 1 -o "$T/heap.table" || return 1
	# site_malloc_held's malloc call, in its own line: not touch(), the
	# always_inline helper its result goes to after the call returns
	want=$(awk '/^SITE void \*site_malloc_held\(/ { f = 1 } f && /malloc\(n\)/ { print NR; exit }' "$asrc")
	got=$(lines_of "$T/heap.pb.gz" | awk -F'\t' -v b="$WL/alloc" '$2 == b && $5 > 0 && $7 == "site_malloc_held" { print $7 "@" $9 ":" $10 }' | sort -u)
	[ "$got" = "site_malloc_held@$asrc:$want" ] ||
		{ echo "leaf Lines of site_malloc_held's allocations: [$got], want [site_malloc_held@$asrc:$want]"; return 1; }
	honest_flags "$T/heap.pb.gz"
}
check "record --heap: the leaf is the allocating call's own line, not the inline code after it" t_heap

# ---- 3. where the debug info is: nowhere, or through .gnu_debuglink ----

t_stripped() { # names from .symtab, no lines, and the flags say so
	cp "$WL/inline" "$T/inline-nodebug" && strip --strip-debug "$T/inline-nodebug"
	rec nodebug.pb.gz -F $HZ -- "$T/inline-nodebug" 2 || return 1
	local bad
	bad=$(lines_of "$T/nodebug.pb.gz" | awk -F'\t' -v b="$T/inline-nodebug" '$2 == b && (NF > 11 || (NF > 6 && ($9 != "" || $10 != 0)))' | head -3)
	[ -z "$bad" ] || { echo "a Line with a file or line, or an inline frame: $bad"; return 1; }
	lines_of "$T/nodebug.pb.gz" | awk -F'\t' -v b="$T/inline-nodebug" '$2 == b && $7 == "spin" { f = 1 } END { exit !f }' ||
		{ echo "spin not named"; return 1; }
	mapping_flags "$T/nodebug.pb.gz" "$T/inline-nodebug" | awk '$2 || $3 || $4 { bad = 1 } END { exit bad }' ||
		{ echo "flags: $(mapping_flags "$T/nodebug.pb.gz" "$T/inline-nodebug")"; return 1; }
}
check "a copy stripped of debug info: names, line 0, no file, flags false" t_stripped

t_debuglink() { # the debug info split into .debug/inline.debug, linked by name and CRC
	mkdir -p "$T/dl/.debug"
	objcopy --only-keep-debug "$WL/inline" "$T/dl/.debug/inline.debug" &&
		objcopy --strip-debug --add-gnu-debuglink="$T/dl/.debug/inline.debug" "$WL/inline" "$T/dl/inline" || return 1
	rec debuglink.pb.gz -F $HZ -- "$T/dl/inline" 2 || return 1
	agree "$T/debuglink.pb.gz" "$T/dl/inline" "$T/dl/.debug/inline.debug" addr2line llvm || return 1
	ours "$T/debuglink.pb.gz" "$T/dl/inline" | awk -F'\t' '$2 ~ /^mix_step@/ { f = 1 } END { exit !f }' ||
		{ echo "no mix_step Line"; return 1; }
}
check ".gnu_debuglink (.debug/ beside the binary): the same Lines as the peers" t_debuglink

t_symbolize_file() { # convert --symbolize: the file lookups a legacy profile needs get lines too
	(cd "$T" && CPUPROFILE=$T/gperf.cpu CPUPROFILE_FREQUENCY=500 "$LEGACY_WL" "$T/gperf.s" "$T/gperf.g" 1 \
		>/dev/null 2>&1) || { echo "$LEGACY_WL failed"; return 1; }
	timeout "$LIMIT" "$BPPROF" convert "$T/gperf.cpu" --symbolize -o "$T/gperf.sym.pb.gz" 2>"$T/gperf.err" ||
		{ echo "convert --symbolize failed: $(cat "$T/gperf.err")"; return 1; }
	grep -qE 'addresses named, [1-9][0-9]* with source lines' "$T/gperf.err" ||
		{ echo "said: $(cat "$T/gperf.err")"; return 1; }
	strict "$T/gperf.sym.pb.gz" && honest_flags "$T/gperf.sym.pb.gz" &&
		agree "$T/gperf.sym.pb.gz" "$LEGACY_WL" "$LEGACY_WL" addr2line llvm
}
check "convert --symbolize of a gperftools profile (C++): the Lines addr2line and llvm-symbolizer give" t_symbolize_file

# ---- 4. --no-lines, its config key, convert ----

t_no_lines() {
	rec nolines.pb.gz -F $HZ --no-lines -- "$WL/inline" 2 || return 1
	local bad
	bad=$(lines_of "$T/nolines.pb.gz" | awk -F'\t' 'NF > 11 || (NF > 6 && ($9 != "" || $10 != 0))' | head -3)
	[ -z "$bad" ] || { echo "a Line with a file or line, or an inline frame: $bad"; return 1; }
	mapping_flags "$T/nolines.pb.gz" "$WL/inline" | awk '$2 || $3 || $4 { bad = 1 } END { exit bad }' ||
		{ echo "flags: $(mapping_flags "$T/nolines.pb.gz" "$WL/inline")"; return 1; }
	"$PPROFCHECK" top "$T/nolines.pb.gz" | grep -q ' spin$' || { echo "spin not named"; return 1; }
}
check "record --no-lines: names only, flags false" t_no_lines

t_config_no_lines() { # the daemon's config key, one window per second
	cat >"$T/run.ini" <<-INI
	[run]
	output-dir = $T/run
	interval = 1s
	freq = $HZ
	no-lines = true
	INI
	timeout -k 5 "$LIMIT" "$BPPROF" run --config "$T/run.ini" -- "$WL/inline" 2.5 </dev/null >"$T/run.out" 2>"$T/run.err" ||
		{ echo "bpprof run exited $?: $(tail -3 "$T/run.err")"; return 1; }
	local f n=0
	for f in "$T"/run/cpu-*.pb.gz; do
		[ -s "$f" ] || continue
		n=$((n + 1))
		lines_of "$f" | awk -F'\t' 'NF > 11 || (NF > 6 && ($9 != "" || $10 != 0)) { bad = 1 } END { exit bad }' ||
			{ echo "$f has lines"; return 1; }
	done
	[ "$n" -ge 2 ] || { echo "$n windows written: $(tail -3 "$T/run.err")"; return 1; }
}
check "bpprof run with no-lines = true in its config: windows without lines" t_config_no_lines

t_convert() { # convert keeps every Line, file and start line it reads
	have "$IL" || return 1
	timeout "$LIMIT" "$BPPROF" -q convert "$IL" -o "$T/converted.pb.gz" 2>"$T/convert.err" ||
		{ echo "convert failed: $(cat "$T/convert.err")"; return 1; }
	same_summary "$IL" "$T/converted.pb.gz" || return 1
	diff <(lines_of "$IL" | LC_ALL=C sort) <(lines_of "$T/converted.pb.gz" | LC_ALL=C sort) >/dev/null ||
		{ echo "Lines differ after convert"; return 1; }
	diff <("$PPROFCHECK" lines "$IL" | grep ^mapping | LC_ALL=C sort) \
		<("$PPROFCHECK" lines "$T/converted.pb.gz" | grep ^mapping | LC_ALL=C sort) >/dev/null ||
		{ echo "mapping flags differ after convert"; return 1; }
}
check "convert keeps the Lines, files, start lines and mapping flags it reads" t_convert

finish
