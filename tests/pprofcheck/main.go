// Command pprofcheck reads and writes pprof profiles with google/pprof's own
// profile package, so the tests judge bpprof's output by the reference parser
// instead of by bpprof's own decoder. Built offline from Debian's
// golang-github-google-pprof-dev (GO111MODULE=off GOPATH=/usr/share/gocode).
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

const usage = `usage: pprofcheck COMMAND [flags] FILE...

  summary [-labels] [-full] [-samples] FILE
        canonical text of what the profile means: sample types, period,
        totals and aggregated stacks (root first, ';'-joined), sorted, so
        that ids and order do not matter
  check [-strict] FILE...
        parse and validate; -strict also requires mapping, location and
        function ids 1..N in array order (Parca's rule)
  stats FILE      counts of samples, locations, functions, mappings
  total FILE TYPE sum of the values of sample type TYPE (name or name/unit)
  labels FILE     distinct label key=value pairs with their sample counts
  folded [-type TYPE] [FILTER] FILE
        folded stacks (root first) of one sample type (default: the first)
  top [-type TYPE] [FILTER] FILE
        per function "FLAT CUM NAME", flat descending: flat counts the
        leaf-most frame of each sample, cum every sample holding the
        function once (as pprof -top does)
  bylabel [-type TYPE] [FILTER] FILE KEY
        per value of label KEY "VALUE TOTAL" ("<none>" for samples without
        it), sorted by value
  FILTER: -tag KEY=VALUE (repeatable, all must hold; a numeric label
        matches its decimal value) keeps the samples carrying those labels;
        -focus REGEX keeps the samples with a frame whose name matches
  lines FILE      one tab-separated line per mapping ("mapping FILE
        has_functions has_filenames has_line_numbers has_inline_frames", each
        0 or 1) and per location ("loc FILE 0xADDRESS 0xFILE_OFFSET FLAT CUM"
        then NAME SYSTEM_NAME FILENAME LINE START_LINE for each Line, innermost
        first); FLAT sums the first value of the samples it is the leaf of,
        CUM of those holding it
  gen OUT -samples N -locations M [-functions F] [-mappings K] [-seed S] [-now] [-heap]
        write a large, realistic CPU profile with google/pprof's encoder
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "summary":
		err = cmdSummary(args)
	case "check":
		err = cmdCheck(args)
	case "stats":
		err = cmdStats(args)
	case "total":
		err = cmdTotal(args)
	case "labels":
		err = cmdLabels(args)
	case "folded":
		err = cmdFolded(args)
	case "top":
		err = cmdTop(args)
	case "bylabel":
		err = cmdByLabel(args)
	case "lines":
		err = cmdLines(args)
	case "gen":
		err = cmdGen(args)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		err = fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pprofcheck %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

// readProfile parses strictly: gzip or plain protobuf only, never the legacy
// text formats profile.Parse falls back to, then CheckValid.
func readProfile(path string) (*profile.Profile, []byte, error) {
	data, err := ioutil.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	raw := data
	if len(raw) >= 4 && raw[0] == 0x28 && raw[1] == 0xb5 && raw[2] == 0x2f && raw[3] == 0xfd {
		return nil, nil, fmt.Errorf("%s: zstd input (google/pprof does not read it; zstd -d first)", path)
	}
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: decompressing: %v", path, err)
		}
		raw, err = ioutil.ReadAll(zr)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: decompressing: %v", path, err)
		}
	}
	p, err := profile.ParseUncompressed(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: parsing profile: %v", path, err)
	}
	if err := p.CheckValid(); err != nil {
		return nil, nil, fmt.Errorf("%s: malformed profile: %v", path, err)
	}
	return p, raw, nil
}

func typeName(vt *profile.ValueType) string {
	if vt == nil {
		return "-"
	}
	return vt.Type + "/" + vt.Unit
}

// sampleIndex finds a sample type by "type" or "type/unit".
func sampleIndex(p *profile.Profile, name string) (int, error) {
	for i, st := range p.SampleType {
		if st.Type == name || typeName(st) == name {
			return i, nil
		}
	}
	var have []string
	for _, st := range p.SampleType {
		have = append(have, typeName(st))
	}
	return 0, fmt.Errorf("no sample type %q (have %s)", name, strings.Join(have, " "))
}

type frameOpts struct {
	full bool // file:line, start line, addresses, mappings, folded flags
}

func mappingName(m *profile.Mapping, full bool) string {
	if m == nil || m.File == "" {
		return ""
	}
	if full {
		return m.File
	}
	return filepath.Base(m.File)
}

// locationFrames renders one location root first: its last Line is the
// caller the earlier ones were inlined into.
func locationFrames(l *profile.Location, o frameOpts) []string {
	if len(l.Line) == 0 {
		s := fmt.Sprintf("0x%x", l.Address)
		if mn := mappingName(l.Mapping, o.full); mn != "" {
			s += "@" + mn
		}
		if o.full && l.IsFolded {
			s += "!folded"
		}
		return []string{s}
	}
	out := make([]string, 0, len(l.Line))
	for i := len(l.Line) - 1; i >= 0; i-- {
		ln := l.Line[i]
		f := ln.Function
		name := f.Name
		if name == "" {
			name = f.SystemName
		}
		if name == "" {
			name = "[unknown]" // perf and FlameGraph spell a nameless frame so
		}
		if o.full {
			if f.SystemName != "" && f.SystemName != f.Name {
				name += "[" + f.SystemName + "]"
			}
			name += fmt.Sprintf("(%s:%d", f.Filename, ln.Line)
			if f.StartLine != 0 {
				name += fmt.Sprintf(",start=%d", f.StartLine)
			}
			name += ")"
			if i == 0 { // the leaf-most line carries the location's own facts
				name += fmt.Sprintf("{0x%x", l.Address)
				if mn := mappingName(l.Mapping, true); mn != "" {
					name += "@" + mn
				}
				if l.IsFolded {
					name += "!folded"
				}
				name += "}"
			}
		}
		out = append(out, name)
	}
	return out
}

func stackString(s *profile.Sample, o frameOpts, cache map[*profile.Location][]string) string {
	var frames []string
	for i := len(s.Location) - 1; i >= 0; i-- { // Location is leaf first
		l := s.Location[i]
		fs, ok := cache[l]
		if !ok {
			fs = locationFrames(l, o)
			cache[l] = fs
		}
		frames = append(frames, fs...)
	}
	if len(frames) == 0 {
		return "<empty>"
	}
	return strings.Join(frames, ";")
}

// labelString is canonical: keys sorted, a numeric label's unit shown only
// when it differs from the key (pprof's own default for a missing unit).
func labelString(s *profile.Sample) string {
	var parts []string
	for k, vs := range s.Label {
		v := append([]string(nil), vs...)
		sort.Strings(v)
		parts = append(parts, k+"="+strings.Join(v, "|"))
	}
	for k, vs := range s.NumLabel {
		units := s.NumUnit[k]
		var v []string
		for i, n := range vs {
			t := strconv.FormatInt(n, 10)
			if i < len(units) && units[i] != "" && units[i] != k {
				t += "[" + units[i] + "]"
			}
			v = append(v, t)
		}
		sort.Strings(v)
		parts = append(parts, "#"+k+"="+strings.Join(v, "|"))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

func cmdSummary(args []string) error {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	labels := fs.Bool("labels", false, "keep sample labels in the stack keys")
	full := fs.Bool("full", false, "frames with file:line, addresses and mappings; list mappings")
	samples := fs.Bool("samples", false, "also print the raw number of sample records (changes when equal samples are merged)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("want one FILE")
	}
	p, _, err := readProfile(fs.Arg(0))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()

	var types []string
	for _, st := range p.SampleType {
		types = append(types, typeName(st))
	}
	fmt.Fprintf(w, "sample_types: %s\n", strings.Join(types, " "))
	fmt.Fprintf(w, "default_sample_type: %s\n", p.DefaultSampleType)
	fmt.Fprintf(w, "period_type: %s\n", typeName(p.PeriodType))
	fmt.Fprintf(w, "period: %d\n", p.Period)
	fmt.Fprintf(w, "time_nanos: %d\n", p.TimeNanos)
	fmt.Fprintf(w, "duration_nanos: %d\n", p.DurationNanos)
	if len(p.Comments) > 0 {
		fmt.Fprintf(w, "comments: %q\n", p.Comments)
	}
	if p.DropFrames != "" || p.KeepFrames != "" {
		fmt.Fprintf(w, "drop_frames: %q keep_frames: %q\n", p.DropFrames, p.KeepFrames)
	}
	if *samples {
		fmt.Fprintf(w, "samples: %d\n", len(p.Sample))
	}

	o := frameOpts{full: *full}
	cache := make(map[*profile.Location][]string)
	agg := make(map[string][]int64)
	totals := make([]int64, len(p.SampleType))
	for _, s := range p.Sample {
		key := stackString(s, o, cache)
		if *labels {
			key += " " + labelString(s)
		}
		v := agg[key]
		if v == nil {
			v = make([]int64, len(s.Value))
			agg[key] = v
		}
		for i, x := range s.Value {
			v[i] += x
			totals[i] += x
		}
	}
	for i, st := range p.SampleType {
		fmt.Fprintf(w, "total %s: %d\n", typeName(st), totals[i])
	}
	if *full {
		// Only mappings that samples reach: dropping unused ones, or adding
		// an empty placeholder mapping as google/pprof's writer does for
		// locations without one, does not change what a profile says.
		seen := make(map[*profile.Mapping]bool)
		var ms []string
		for _, s := range p.Sample {
			for _, l := range s.Location {
				m := l.Mapping
				if m == nil || seen[m] || emptyMapping(m) {
					continue
				}
				seen[m] = true
				ms = append(ms, fmt.Sprintf("mapping: 0x%x-0x%x off=0x%x %q build_id=%q flags=%v%v%v%v",
					m.Start, m.Limit, m.Offset, m.File, m.BuildID,
					b2i(m.HasFunctions), b2i(m.HasFilenames), b2i(m.HasLineNumbers), b2i(m.HasInlineFrames)))
			}
		}
		sort.Strings(ms)
		for _, m := range ms {
			fmt.Fprintln(w, m)
		}
	}
	keys := make([]string, 0, len(agg))
	for k := range agg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "stacks: %d\n", len(keys))
	for _, k := range keys {
		fmt.Fprint(w, k)
		for _, x := range agg[k] {
			fmt.Fprintf(w, " %d", x)
		}
		fmt.Fprintln(w)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmdCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	strict := fs.Bool("strict", false, "ids must be 1..N in array order")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("want FILE...")
	}
	for _, path := range fs.Args() {
		p, raw, err := readProfile(path)
		if err != nil {
			return err
		}
		if *strict {
			if err := checkIDOrder(raw); err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
		}
		fmt.Printf("%s: ok: %d samples, %d locations, %d functions, %d mappings\n",
			path, len(p.Sample), len(p.Location), len(p.Function), len(p.Mapping))
	}
	return nil
}

// checkIDOrder walks the raw protobuf, because google/pprof renumbers
// mappings while decoding: each mapping (3), location (4) and function (5)
// must carry id (field 1) equal to its 1-based position.
func checkIDOrder(raw []byte) error {
	next := map[uint64]uint64{3: 1, 4: 1, 5: 1}
	names := map[uint64]string{3: "mapping", 4: "location", 5: "function"}
	b := raw
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("bad tag varint")
		}
		b = b[n:]
		field, wt := tag>>3, tag&7
		switch wt {
		case 0:
			_, n = binary.Uvarint(b)
			if n <= 0 {
				return errors.New("bad varint")
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return errors.New("truncated fixed64")
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return errors.New("truncated fixed32")
			}
			b = b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return errors.New("truncated length-delimited field")
			}
			msg := b[n : n+int(l)]
			b = b[n+int(l):]
			if want, ok := next[field]; ok {
				id := messageID(msg)
				if id != want {
					return fmt.Errorf("%s #%d has id %d, want %d", names[field], want, id, want)
				}
				next[field] = want + 1
			}
		default:
			return fmt.Errorf("wire type %d", wt)
		}
	}
	return nil
}

// messageID returns the last varint field 1 of msg (0 if none).
func messageID(msg []byte) uint64 {
	var id uint64
	for len(msg) > 0 {
		tag, n := binary.Uvarint(msg)
		if n <= 0 {
			return id
		}
		msg = msg[n:]
		switch tag & 7 {
		case 0:
			v, n := binary.Uvarint(msg)
			if n <= 0 {
				return id
			}
			if tag>>3 == 1 {
				id = v
			}
			msg = msg[n:]
		case 1:
			if len(msg) < 8 {
				return id
			}
			msg = msg[8:]
		case 5:
			if len(msg) < 4 {
				return id
			}
			msg = msg[4:]
		case 2:
			l, n := binary.Uvarint(msg)
			if n <= 0 || uint64(len(msg)-n) < l {
				return id
			}
			msg = msg[n+int(l):]
		default:
			return id
		}
	}
	return id
}

func cmdStats(args []string) error {
	if len(args) != 1 {
		return errors.New("want FILE")
	}
	p, raw, err := readProfile(args[0])
	if err != nil {
		return err
	}
	fmt.Printf("samples: %d\nlocations: %d\nfunctions: %d\nmappings: %d\nuncompressed_bytes: %d\n",
		len(p.Sample), len(p.Location), len(p.Function), len(p.Mapping), len(raw))
	return nil
}

func cmdLines(args []string) error {
	if len(args) != 1 {
		return errors.New("want FILE")
	}
	p, _, err := readProfile(args[0])
	if err != nil {
		return err
	}
	for _, m := range p.Mapping {
		fmt.Printf("mapping\t%s\t%d\t%d\t%d\t%d\n", m.File, b2i(m.HasFunctions),
			b2i(m.HasFilenames), b2i(m.HasLineNumbers), b2i(m.HasInlineFrames))
	}
	flat, cum := map[*profile.Location]int64{}, map[*profile.Location]int64{}
	for _, s := range p.Sample {
		if len(s.Value) == 0 || len(s.Location) == 0 {
			continue
		}
		flat[s.Location[0]] += s.Value[0]
		seen := map[*profile.Location]bool{}
		for _, l := range s.Location {
			if !seen[l] {
				cum[l] += s.Value[0]
				seen[l] = true
			}
		}
	}
	for _, l := range p.Location {
		file, off := "", l.Address
		if m := l.Mapping; m != nil {
			file = m.File
			off = l.Address - m.Start + m.Offset
		}
		fmt.Printf("loc\t%s\t0x%x\t0x%x\t%d\t%d", file, l.Address, off, flat[l], cum[l])
		for _, ln := range l.Line {
			f := ln.Function
			fmt.Printf("\t%s\t%s\t%s\t%d\t%d", f.Name, f.SystemName, f.Filename, ln.Line, f.StartLine)
		}
		fmt.Println()
	}
	return nil
}

func cmdTotal(args []string) error {
	if len(args) != 2 {
		return errors.New("want FILE TYPE")
	}
	p, _, err := readProfile(args[0])
	if err != nil {
		return err
	}
	i, err := sampleIndex(p, args[1])
	if err != nil {
		return err
	}
	var t int64
	for _, s := range p.Sample {
		t += s.Value[i]
	}
	fmt.Println(t)
	return nil
}

func cmdLabels(args []string) error {
	if len(args) != 1 {
		return errors.New("want FILE")
	}
	p, _, err := readProfile(args[0])
	if err != nil {
		return err
	}
	counts := make(map[string]int)
	for _, s := range p.Sample {
		for k, vs := range s.Label {
			for _, v := range vs {
				counts[k+"="+v]++
			}
		}
		for k, vs := range s.NumLabel {
			for _, v := range vs {
				counts["#"+k+"="+strconv.FormatInt(v, 10)]++
			}
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%s %d\n", k, counts[k])
	}
	return nil
}

// tagFlags collects repeated -tag KEY=VALUE flags.
type tagFlags [][2]string

func (t *tagFlags) String() string { return fmt.Sprint(*t) }
func (t *tagFlags) Set(v string) error {
	i := strings.IndexByte(v, '=')
	if i <= 0 {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*t = append(*t, [2]string{v[:i], v[i+1:]})
	return nil
}

// sampleFilter is the FILTER of folded, top and bylabel plus -type: it
// parses the flags, reads the one FILE (after NARGS-1 more arguments) and
// yields the samples kept, with the index of the sample type to sum.
type sampleFilter struct {
	fs    *flag.FlagSet
	typ   *string
	tags  tagFlags
	focus *string
}

func newSampleFilter(name string) *sampleFilter {
	f := &sampleFilter{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.typ = f.fs.String("type", "", "sample type (default: the first)")
	f.fs.Var(&f.tags, "tag", "KEY=VALUE: keep samples with this label (repeatable)")
	f.focus = f.fs.String("focus", "", "keep samples with a frame matching this regexp")
	return f
}

func (f *sampleFilter) load(args []string, nargs int) (*profile.Profile, []*profile.Sample, int, error) {
	if err := f.fs.Parse(args); err != nil {
		return nil, nil, 0, err
	}
	if f.fs.NArg() != nargs {
		return nil, nil, 0, fmt.Errorf("want %d arguments after the flags, got %d", nargs, f.fs.NArg())
	}
	var focus *regexp.Regexp
	if *f.focus != "" {
		var err error
		if focus, err = regexp.Compile(*f.focus); err != nil {
			return nil, nil, 0, err
		}
	}
	p, _, err := readProfile(f.fs.Arg(0))
	if err != nil {
		return nil, nil, 0, err
	}
	idx := 0
	if *f.typ != "" {
		if idx, err = sampleIndex(p, *f.typ); err != nil {
			return nil, nil, 0, err
		}
	} else if len(p.SampleType) == 0 {
		return nil, nil, 0, errors.New("no sample types")
	}
	cache := make(map[*profile.Location][]string)
	var kept []*profile.Sample
	for _, s := range p.Sample {
		if hasTags(s, f.tags) && (focus == nil || hasFrame(s, focus, cache)) {
			kept = append(kept, s)
		}
	}
	return p, kept, idx, nil
}

func labelValues(s *profile.Sample, key string) []string {
	v := append([]string(nil), s.Label[key]...)
	for _, n := range s.NumLabel[key] {
		v = append(v, strconv.FormatInt(n, 10))
	}
	return v
}

func hasTags(s *profile.Sample, tags tagFlags) bool {
	for _, t := range tags {
		found := false
		for _, v := range labelValues(s, t[0]) {
			found = found || v == t[1]
		}
		if !found {
			return false
		}
	}
	return true
}

func hasFrame(s *profile.Sample, re *regexp.Regexp, cache map[*profile.Location][]string) bool {
	for _, l := range s.Location {
		fs, ok := cache[l]
		if !ok {
			fs = locationFrames(l, frameOpts{})
			cache[l] = fs
		}
		for _, f := range fs {
			if re.MatchString(f) {
				return true
			}
		}
	}
	return false
}

func cmdTop(args []string) error {
	f := newSampleFilter("top")
	_, samples, idx, err := f.load(args, 1)
	if err != nil {
		return err
	}
	cache := make(map[*profile.Location][]string)
	flat := make(map[string]int64)
	cum := make(map[string]int64)
	for _, s := range samples {
		v := s.Value[idx]
		seen := make(map[string]bool)
		for i, l := range s.Location { // leaf first
			fs, ok := cache[l]
			if !ok {
				fs = locationFrames(l, frameOpts{})
				cache[l] = fs
			}
			for j := len(fs) - 1; j >= 0; j-- { // fs is root first
				if i == 0 && j == len(fs)-1 {
					flat[fs[j]] += v
				}
				if !seen[fs[j]] {
					seen[fs[j]] = true
					cum[fs[j]] += v
				}
			}
		}
	}
	names := make([]string, 0, len(cum))
	for n := range cum {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := names[i], names[j]
		if flat[a] != flat[b] {
			return flat[a] > flat[b]
		}
		if cum[a] != cum[b] {
			return cum[a] > cum[b]
		}
		return a < b
	})
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, n := range names {
		fmt.Fprintf(w, "%d %d %s\n", flat[n], cum[n], n)
	}
	return nil
}

func cmdByLabel(args []string) error {
	f := newSampleFilter("bylabel")
	_, samples, idx, err := f.load(args, 2)
	if err != nil {
		return err
	}
	key := f.fs.Arg(1)
	tot := make(map[string]int64)
	for _, s := range samples {
		vs := labelValues(s, key)
		if len(vs) == 0 {
			vs = []string{"<none>"}
		}
		for _, v := range vs {
			tot[v] += s.Value[idx]
		}
	}
	keys := make([]string, 0, len(tot))
	for k := range tot {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%s %d\n", k, tot[k])
	}
	return nil
}

func cmdFolded(args []string) error {
	f := newSampleFilter("folded")
	_, samples, idx, err := f.load(args, 1)
	if err != nil {
		return err
	}
	cache := make(map[*profile.Location][]string)
	agg := make(map[string]int64)
	for _, s := range samples {
		agg[stackString(s, frameOpts{}, cache)] += s.Value[idx]
	}
	keys := make([]string, 0, len(agg))
	for k := range agg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, k := range keys {
		if agg[k] != 0 { // a zero line means nothing in a flame graph
			fmt.Fprintf(w, "%s %d\n", k, agg[k])
		}
	}
	return nil
}

// ---- gen: a synthetic but realistically shaped CPU profile ----

var (
	libNames = []string{
		"/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/libm.so.6",
		"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
		"/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30",
		"/usr/lib/x86_64-linux-gnu/libssl.so.3",
		"/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
		"/usr/lib/x86_64-linux-gnu/libpthread.so.0",
		"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	}
	comms  = []string{"server", "worker", "gzip", "postgres", "nginx", "java", "python3", "node"}
	verbs  = []string{"read", "write", "parse", "encode", "decode", "hash", "lookup", "insert", "flush", "scan", "alloc", "free", "compress", "send", "recv", "sort"}
	nouns  = []string{"buffer", "table", "record", "frame", "header", "block", "index", "entry", "node", "page", "stream", "packet", "chunk", "key", "row", "tree"}
	spaces = []string{"net", "io", "db", "http", "json", "crypto", "sched", "mem", "fs", "rpc", "cache", "log"}
)

func cmdGen(args []string) error {
	if len(args) < 1 || strings.HasPrefix(args[0], "-") {
		return errors.New("want OUT first")
	}
	out := args[0]
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	nSamples := fs.Int("samples", 200000, "number of samples")
	nLocs := fs.Int("locations", 50000, "number of locations")
	nFuncs := fs.Int("functions", 0, "number of functions (default locations/2)")
	nMaps := fs.Int("mappings", 8, "number of mappings (first is the main binary)")
	seed := fs.Int64("seed", 1, "random seed (output is deterministic for a seed)")
	now := fs.Bool("now", false, "time the profile now (ingestion refuses old profiles)")
	heap := fs.Bool("heap", false, "heap sample types (alloc/inuse objects and space) instead of CPU")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *nFuncs == 0 {
		*nFuncs = *nLocs / 2
	}
	if *nSamples < 1 || *nLocs < 64 || *nFuncs < 1 || *nMaps < 1 || *nMaps > len(libNames)+1 {
		return fmt.Errorf("need samples>=1, locations>=64, functions>=1, 1<=mappings<=%d", len(libNames)+1)
	}
	p := genProfile(rand.New(rand.NewSource(*seed)), *nSamples, *nLocs, *nFuncs, *nMaps)
	if *now {
		p.TimeNanos = time.Now().UnixNano() - p.DurationNanos
	}
	if *heap {
		toHeap(p)
	}
	if err := p.CheckValid(); err != nil {
		return fmt.Errorf("generated profile invalid: %v", err)
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = p.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	fmt.Fprintf(os.Stderr, "pprofcheck gen: %s: %d samples, %d locations, %d functions, %d mappings\n",
		out, len(p.Sample), len(p.Location), len(p.Function), len(p.Mapping))
	return nil
}

// toHeap gives p a heap profile's types: each sample's count of objects,
// 64 bytes each, allocated and (every other sample) still in use.
func toHeap(p *profile.Profile) {
	p.SampleType = []*profile.ValueType{
		{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"},
		{Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"},
	}
	p.PeriodType = &profile.ValueType{Type: "space", Unit: "bytes"}
	p.Period = 524288
	p.DefaultSampleType = "inuse_space"
	for i, s := range p.Sample {
		n := s.Value[0]
		held := n * int64(i%2)
		s.Value = []int64{n, n * 64, held, held * 64}
	}
}

func genProfile(r *rand.Rand, nSamples, nLocs, nFuncs, nMaps int) *profile.Profile {
	const period = 10000000 // 100 Hz
	p := &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "samples", Unit: "count"},
			{Type: "cpu", Unit: "nanoseconds"},
		},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        period,
		TimeNanos:     1700000000000000000,
		DurationNanos: 60 * 1000000000,
	}

	// Mappings: the main binary, then shared libraries, 16 MiB apart.
	for i := 0; i < nMaps; i++ {
		file := "/usr/local/bin/server"
		if i > 0 {
			file = libNames[i-1]
		}
		start := uint64(0x400000)
		if i > 0 {
			start = 0x7f0000000000 + uint64(i)<<24
		}
		p.Mapping = append(p.Mapping, &profile.Mapping{
			ID: uint64(i + 1), Start: start, Limit: start + 1<<24 - 0x1000, Offset: 0,
			File: file, BuildID: fmt.Sprintf("%040x", r.Uint64()^uint64(i)*0x9e3779b97f4a7c15),
			HasFunctions: true, HasFilenames: true, HasLineNumbers: true, HasInlineFrames: true,
		})
	}

	// Functions: C/C++/Go-looking names spread over a few hundred files.
	nFiles := nFuncs/20 + 1
	for i := 0; i < nFuncs; i++ {
		sp := spaces[r.Intn(len(spaces))]
		var name string
		switch i % 3 {
		case 0:
			name = fmt.Sprintf("%s_%s_%s_%d", sp, verbs[r.Intn(len(verbs))], nouns[r.Intn(len(nouns))], i)
		case 1:
			name = fmt.Sprintf("%s::%s%d::%s_%s", sp, strings.Title(nouns[r.Intn(len(nouns))]), i,
				verbs[r.Intn(len(verbs))], nouns[r.Intn(len(nouns))])
		default:
			name = fmt.Sprintf("example.com/%s/%s.(*%s).%s%d", sp, nouns[r.Intn(len(nouns))],
				strings.Title(nouns[r.Intn(len(nouns))]), strings.Title(verbs[r.Intn(len(verbs))]), i)
		}
		fileNo := r.Intn(nFiles)
		p.Function = append(p.Function, &profile.Function{
			ID: uint64(i + 1), Name: name, SystemName: name,
			Filename:  fmt.Sprintf("/src/project/%s/%s_%d.c", spaces[fileNo%len(spaces)], nouns[fileNo%len(nouns)], fileNo),
			StartLine: int64(10 + r.Intn(2000)),
		})
	}

	// Locations: mostly in the main binary, one to three Lines (inlined).
	for i := 0; i < nLocs; i++ {
		m := p.Mapping[0]
		if nMaps > 1 && r.Intn(3) == 0 {
			m = p.Mapping[1+r.Intn(nMaps-1)]
		}
		nl := 1
		if x := r.Intn(10); x == 0 {
			nl = 3
		} else if x < 3 {
			nl = 2
		}
		loc := &profile.Location{ID: uint64(i + 1), Mapping: m, Address: m.Start + uint64(r.Int63n(int64(m.Limit-m.Start)))}
		for j := 0; j < nl; j++ {
			f := p.Function[r.Intn(nFuncs)]
			loc.Line = append(loc.Line, profile.Line{Function: f, Line: f.StartLine + int64(r.Intn(300))})
		}
		p.Location = append(p.Location, loc)
	}

	// A call graph: each location calls a handful of others, so stacks share
	// prefixes the way real ones do; sample stacks are walks from a root.
	callees := make([][]*profile.Location, nLocs)
	for i := range callees {
		k := 1 + r.Intn(5)
		for j := 0; j < k; j++ {
			callees[i] = append(callees[i], p.Location[r.Intn(nLocs)])
		}
	}
	roots := p.Location[:16]

	type proc struct {
		pid  int64
		comm string
	}
	var procs []proc
	for i := 0; i < 40; i++ {
		procs = append(procs, proc{pid: int64(1000 + r.Intn(4000000)), comm: comms[i%len(comms)]})
	}

	for i := 0; i < nSamples; i++ {
		depth := 5 + r.Intn(56) // 5..60
		stack := make([]*profile.Location, depth)
		l := roots[r.Intn(len(roots))]
		for d := depth - 1; d >= 0; d-- { // fill root last-index first: Location is leaf first
			stack[d] = l
			cs := callees[l.ID-1]
			l = cs[r.Intn(len(cs))]
		}
		pr := procs[r.Intn(len(procs))]
		count := int64(1)
		if r.Intn(4) == 0 {
			count += int64(r.Intn(20))
		}
		p.Sample = append(p.Sample, &profile.Sample{
			Location: stack,
			Value:    []int64{count, count * period},
			Label:    map[string][]string{"comm": {pr.comm}},
			NumLabel: map[string][]int64{"pid": {pr.pid}, "tid": {pr.pid + int64(r.Intn(8))}},
		})
	}
	return p
}

func emptyMapping(m *profile.Mapping) bool {
	return m.Start == 0 && m.Limit == 0 && m.Offset == 0 && m.File == "" && m.BuildID == "" &&
		!m.HasFunctions && !m.HasFilenames && !m.HasLineNumbers && !m.HasInlineFrames
}
