// Profile decoding, the checks Pyroscope applies to every profile whatever
// the API, and the summary (sample types, totals, folded stacks) the tests
// read back from the log.
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/pprof/profile"
	"google.golang.org/protobuf/encoding/protowire"
)

// Pyroscope's default limits (protocols.md, "Limits and validation").
const (
	maxProfileBytes     = 4 << 20
	maxProfileSamples   = 16000
	maxLabelsPerSample  = 100
	maxLabelsPerSeries  = 30
	maxProfileAge       = time.Hour
	maxProfileFuture    = 10 * time.Minute
	maxFoldedEntries    = 200
	decompressSanityCap = 256 << 20
)

type summary struct {
	SampleTypes        []string         `json:"sample_types"`
	DefaultSampleType  string           `json:"default_sample_type,omitempty"`
	PeriodType         string           `json:"period_type"`
	Period             int64            `json:"period"`
	TimeNanos          int64            `json:"time_nanos"`
	DurationNanos      int64            `json:"duration_nanos"`
	Samples            int              `json:"samples"`
	KeptSamples        int              `json:"kept_samples"`
	Totals             map[string]int64 `json:"totals"`
	Comments           []string         `json:"comments"`
	StringLabels       []string         `json:"string_labels"`
	NumLabels          []string         `json:"num_labels"`
	MaxLabelsPerSample int              `json:"max_labels_per_sample"`
	MaxDepth           int              `json:"max_depth"`
	Locations          int              `json:"locations"`
	Functions          int              `json:"functions"`
	Mappings           int              `json:"mappings"`
	Gzip               bool             `json:"gzip"`
	ProfileBytes       int              `json:"profile_bytes"`
	Folded             map[string]int64 `json:"folded"`
	FoldedTruncated    bool             `json:"folded_truncated,omitempty"`
}

// decodeProfile reads a pprof the way Pyroscope does: gzip or plain
// protobuf, nothing else (google/pprof's legacy text formats and zstd are
// refused), every string valid UTF-8, then google/pprof's own checks.
func decodeProfile(data []byte) (*profile.Profile, *summary, error) {
	raw := data
	gz := len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
	if gz {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err == nil {
			raw, err = io.ReadAll(io.LimitReader(zr, decompressSanityCap+1))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("decompressing profile: %v", err)
		}
		if len(raw) > decompressSanityCap {
			return nil, nil, fmt.Errorf("decompressed profile larger than %d bytes", decompressSanityCap)
		}
	}
	if len(raw) >= 4 && bytes.Equal(raw[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return nil, nil, errors.New("parsing profile: zstd-compressed data is not read (send gzip or plain)")
	}
	rawLabels, err := scanRaw(raw)
	if err != nil {
		return nil, nil, err
	}
	p, err := profile.ParseUncompressed(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing profile: %v", err)
	}
	if err := p.CheckValid(); err != nil {
		return nil, nil, fmt.Errorf("malformed profile: %v", err)
	}
	sum := summarize(p)
	sum.Gzip = gz
	if rawLabels > sum.MaxLabelsPerSample {
		sum.MaxLabelsPerSample = rawLabels
	}
	sum.ProfileBytes = len(raw)
	return p, sum, nil
}

// scanRaw walks the encoded Profile before google/pprof sees it: it rejects
// invalid UTF-8 in string_table (field 6) as a proto3 string decoder does,
// and counts the labels of each sample (field 2, labels are its field 3) as
// sent, since google/pprof drops some (a num of 0 without a unit, an empty
// str) and Pyroscope counts them all. Framing errors are left to the parser.
func scanRaw(b []byte) (maxLabels int, err error) {
	idx := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return maxLabels, nil
		}
		b = b[n:]
		if typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return maxLabels, nil
			}
			b = b[m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return maxLabels, nil
		}
		b = b[m:]
		switch num {
		case 6:
			if !utf8.Valid(v) {
				return maxLabels, fmt.Errorf("parsing profile: string_table[%d] is not valid UTF-8: %q", idx, v)
			}
			idx++
		case 2:
			if l := countField(v, 3); l > maxLabels {
				maxLabels = l
			}
		}
	}
	return maxLabels, nil
}

// countField counts the occurrences of field num in one message.
func countField(b []byte, want protowire.Number) int {
	count := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return count
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return count
		}
		b = b[m:]
		if num == want {
			count++
		}
	}
	return count
}

func valueType(vt *profile.ValueType) string {
	if vt == nil {
		return ""
	}
	return vt.Type + "/" + vt.Unit
}

func summarize(p *profile.Profile) *summary {
	s := &summary{
		SampleTypes:       []string{},
		DefaultSampleType: p.DefaultSampleType,
		PeriodType:        valueType(p.PeriodType),
		Period:            p.Period,
		TimeNanos:         p.TimeNanos,
		DurationNanos:     p.DurationNanos,
		Samples:           len(p.Sample),
		Totals:            map[string]int64{},
		Comments:          append([]string{}, p.Comments...),
		Locations:         len(p.Location),
		Functions:         len(p.Function),
		Mappings:          len(p.Mapping),
		Folded:            map[string]int64{},
	}
	for _, st := range p.SampleType {
		s.SampleTypes = append(s.SampleTypes, valueType(st))
	}
	strKeys, numKeys := map[string]bool{}, map[string]bool{}
	for _, smp := range p.Sample {
		nonzero, negative, labels := false, false, 0
		for i, v := range smp.Value {
			if i < len(s.SampleTypes) {
				s.Totals[s.SampleTypes[i]] += v
			}
			nonzero = nonzero || v != 0
			negative = negative || v < 0
		}
		// Pyroscope drops samples that are all zero or hold a negative value.
		if nonzero && !negative {
			s.KeptSamples++
		}
		for k, vs := range smp.Label {
			strKeys[k] = true
			labels += len(vs)
		}
		for k, vs := range smp.NumLabel {
			numKeys[k] = true
			labels += len(vs)
		}
		if labels > s.MaxLabelsPerSample {
			s.MaxLabelsPerSample = labels
		}
		if len(smp.Location) > s.MaxDepth {
			s.MaxDepth = len(smp.Location)
		}
		if len(smp.Value) > 0 {
			s.Folded[foldStack(smp)] += smp.Value[0]
		}
	}
	s.StringLabels = sortedKeys(strKeys)
	s.NumLabels = sortedKeys(numKeys)
	if len(s.Folded) > maxFoldedEntries {
		s.Folded, s.FoldedTruncated = topFolded(s.Folded, maxFoldedEntries), true
	}
	return s
}

// foldStack names a sample's frames root first, inlined callees after
// their callers (a location's lines run innermost first).
func foldStack(smp *profile.Sample) string {
	var frames []string
	for i := len(smp.Location) - 1; i >= 0; i-- {
		loc := smp.Location[i]
		if len(loc.Line) == 0 {
			frames = append(frames, fmt.Sprintf("0x%x", loc.Address))
			continue
		}
		for j := len(loc.Line) - 1; j >= 0; j-- {
			name := "?"
			if fn := loc.Line[j].Function; fn != nil && fn.Name != "" {
				name = fn.Name
			}
			frames = append(frames, name)
		}
	}
	return strings.Join(frames, ";")
}

// topFolded keeps the n heaviest stacks (ties by name) so the cut is stable.
func topFolded(m map[string]int64, n int) map[string]int64 {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	out := make(map[string]int64, n)
	for _, k := range keys[:n] {
		out[k] = m[k]
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// validateProfile lists every Pyroscope rule the profile breaks. series is
// the series label set the profile will join: Pyroscope turns string sample
// labels into series labels, so their keys must be label names and the union
// must stay within the per-series label limit.
func validateProfile(p *profile.Profile, s *summary, now time.Time, series map[string]string) []*apiError {
	var errs []*apiError
	add := func(format string, args ...interface{}) {
		errs = append(errs, &apiError{msg: fmt.Sprintf(format, args...)})
	}
	if len(p.SampleType) == 0 {
		add("profile has no sample types")
	}
	if s.ProfileBytes > maxProfileBytes {
		add("the profile exceeds the size limit (max_profile_size_bytes, actual: %d, limit: %d)", s.ProfileBytes, maxProfileBytes)
	}
	if len(p.Sample) > maxProfileSamples {
		add("the profile exceeds the samples count limit (max_profile_stacktrace_samples, actual: %d, limit: %d)", len(p.Sample), maxProfileSamples)
	}
	if s.MaxLabelsPerSample > maxLabelsPerSample {
		add("the profile exceeds the sample labels limit (max_profile_stacktrace_sample_labels, actual: %d, limit: %d)", s.MaxLabelsPerSample, maxLabelsPerSample)
	}
	for _, st := range p.SampleType {
		if strings.Contains(st.Type, "-") {
			add("sample type contains -: %q", st.Type)
		}
	}
	t := time.Unix(0, p.TimeNanos)
	if t.Before(now.Add(-maxProfileAge)) || t.After(now.Add(maxProfileFuture)) {
		add("time_nanos %d (%s) outside [now-1h, now+10m] (now %s)", p.TimeNanos,
			t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	for _, k := range s.StringLabels {
		if !validLabelName(k) {
			add("string sample label %q is not a valid label name [a-zA-Z_][a-zA-Z0-9_]* (it becomes a series label)", k)
		}
	}
	if series != nil {
		seen := map[string]bool{}
		for _, smp := range p.Sample {
			keys := make([]string, 0, len(smp.Label))
			for k := range smp.Label {
				if _, dup := series[k]; !dup {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			sig := strings.Join(keys, "\x00")
			if seen[sig] {
				continue
			}
			seen[sig] = true
			if n := len(series) + len(keys); n > maxLabelsPerSeries {
				add("profile series has %d label names once string sample labels %v are added; limit %d", n, keys, maxLabelsPerSeries)
				break
			}
		}
	}
	return errs
}

// validLabelName is Prometheus' legacy label name: [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// validMetricName is Prometheus' metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// profileName is the __name__ Pyroscope gives an /ingest pprof.
func profileName(p *profile.Profile) string {
	has := func(pred func(string) bool) bool {
		for _, st := range p.SampleType {
			if pred(st.Type) {
				return true
			}
		}
		return false
	}
	switch {
	case has(func(t string) bool { return strings.Contains(t, "cpu") }):
		return "process_cpu"
	case has(func(t string) bool { return strings.HasPrefix(t, "alloc_") || strings.HasPrefix(t, "inuse_") }):
		return "memory"
	case has(func(t string) bool { return strings.Contains(t, "wall") }):
		return "wall"
	case len(p.SampleType) > 0:
		return p.SampleType[0].Type
	}
	return ""
}
