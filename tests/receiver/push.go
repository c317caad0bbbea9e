// Pyroscope's Connect push API (push.v1.PusherService/Push): PushRequest
// decoded by hand with protowire, series label rules, sample UUIDs, and the
// per-profile checks. Also the generic /pprof endpoint.
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

const (
	maxLabelNameLength  = 1024
	maxLabelValueLength = 2048
	defaultServiceName  = "unknown_service"
)

type labelPair struct{ name, value string }

type rawSample struct {
	profile []byte
	id      string
}

type rawSeries struct {
	labels  []labelPair
	samples []rawSample
}

func (s *server) handlePush(req *request) result {
	e := req.base
	if mt, _, err := mime.ParseMediaType(e.ContentType); err != nil || mt != "application/proto" {
		return result{err: errorf(415, "unsupported content-type %q: want application/proto", e.ContentType)}
	}
	body, aerr := decodeBody(req.body, e.ContentEncoding, s.cfg.maxBody)
	if aerr != nil {
		return result{err: aerr}
	}
	if e.ContentEncoding != "" {
		e.DecodedBytes = len(body)
	}
	series, err := decodePushRequest(body)
	if err != nil {
		return result{err: errorf(400, "unmarshal push.v1.PushRequest: %v", err)}
	}
	e.Series = len(series)
	if len(series) == 0 {
		return result{reason: "no series"}
	}

	var lines []*entry
	var firstErr *apiError
	fail := func(format string, args ...interface{}) {
		if firstErr == nil {
			firstErr = errorf(400, format, args...)
		}
	}
	now := time.Now()
	for si, ser := range series {
		labels, lerr := checkSeriesLabels(ser.labels)
		if lerr != "" {
			fail("series %d: %s", si, lerr)
		}
		for pi, smp := range ser.samples {
			line := *e
			line.Labels, line.Name, line.ID = labels, labels["__name__"], smp.id
			lines = append(lines, &line)
			if !validUUID(smp.id) {
				fail("series %d sample %d: ID %q is not a UUID", si, pi, smp.id)
			}
			p, sum, err := decodeProfile(smp.profile)
			if err != nil {
				fail("series %d sample %d: %v", si, pi, err)
				continue
			}
			line.summary = sum
			if errs := validateProfile(p, sum, now, labels); len(errs) > 0 {
				fail("series %d sample %d: %s", si, pi, joinErrors(errs))
			}
		}
	}
	if len(lines) == 0 {
		return result{reason: "no samples"}
	}
	if firstErr != nil {
		return result{err: firstErr, lines: lines}
	}
	return result{stored: true, lines: lines}
}

// decodeBody undoes Content-Encoding: gzip, the only request compression
// Pyroscope's Connect handler registers.
func decodeBody(body []byte, encoding string, max int64) ([]byte, *apiError) {
	switch strings.ToLower(encoding) {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, errorf(400, "decompress gzip body: %v", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, max+1))
		if err != nil {
			return nil, errorf(400, "decompress gzip body: %v", err)
		}
		if int64(len(out)) > max {
			return nil, errorf(413, "decompressed body is larger than %d bytes", max)
		}
		return out, nil
	}
	return nil, errorf(501, "unknown compression %q: supported encodings are [gzip]", encoding)
}

// checkSeriesLabels applies Pyroscope's series label rules and returns the
// labels as a map with service_name defaulted, or a message saying why not.
func checkSeriesLabels(in []labelPair) (map[string]string, string) {
	ls := append([]labelPair{}, in...)
	hasService := false
	for _, l := range ls {
		hasService = hasService || l.name == "service_name"
	}
	if !hasService {
		ls = append(ls, labelPair{"service_name", defaultServiceName})
	}
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].name < ls[j].name })
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.name] = l.value
	}
	str := labelString(ls)
	if len(ls) > maxLabelsPerSeries {
		return m, fmt.Sprintf("profile series '%s' has %d label names; limit %d", str, len(ls), maxLabelsPerSeries)
	}
	if !validMetricName(m["__name__"]) {
		return m, fmt.Sprintf("invalid labels '%s' with error: invalid metric name (__name__ %q)", str, m["__name__"])
	}
	if m["service_name"] == "" {
		return m, fmt.Sprintf("invalid labels '%s' with error: service name is not provided", str)
	}
	last := ""
	for _, l := range ls {
		switch {
		case len(l.name) > maxLabelNameLength:
			return m, fmt.Sprintf("profile with labels '%s' has label name too long: '%s'", str, l.name)
		case len(l.value) > maxLabelValueLength:
			return m, fmt.Sprintf("profile with labels '%s' has label value too long: '%s'", str, l.value)
		case !validLabelName(l.name):
			return m, fmt.Sprintf("invalid labels '%s' with error: invalid label name '%s' (want [a-zA-Z_][a-zA-Z0-9_]*, dots must become _)", str, l.name)
		case l.name == last:
			return m, fmt.Sprintf("profile with labels '%s' has duplicate label name: '%s'", str, l.name)
		}
		last = l.name
	}
	return m, ""
}

func labelString(ls []labelPair) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%s=%q", l.name, l.value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// validUUID accepts the forms github.com/google/uuid.Parse does: canonical
// 8-4-4-4-12 hex, in braces, with a urn:uuid: prefix, or 32 bare hex digits.
func validUUID(s string) bool {
	switch len(s) {
	case 36 + 9:
		if !strings.EqualFold(s[:9], "urn:uuid:") {
			return false
		}
		s = s[9:]
	case 36 + 2:
		if s[0] != '{' || s[len(s)-1] != '}' {
			return false
		}
		s = s[1 : len(s)-1]
	case 32:
		return isHex(s)
	case 36:
	default:
		return false
	}
	if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	return isHex(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:])
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
			return false
		}
	}
	return true
}

// ---- PushRequest wire decoding ---------------------------------------------

// forEachField walks one message, handing length-delimited fields to fn and
// skipping the rest (a known field with another wire type is unknown to
// proto too).
func forEachField(b []byte, fn func(num protowire.Number, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			if err := fn(num, v); err != nil {
				return err
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		b = b[m:]
	}
	return nil
}

func protoString(field string, v []byte) (string, error) {
	if !utf8.Valid(v) {
		return "", fmt.Errorf("field %s contains invalid UTF-8", field)
	}
	return string(v), nil
}

func decodePushRequest(b []byte) ([]rawSeries, error) {
	var out []rawSeries
	err := forEachField(b, func(num protowire.Number, v []byte) error {
		if num != 1 {
			return nil
		}
		var ser rawSeries
		err := forEachField(v, func(num protowire.Number, v []byte) error {
			switch num {
			case 1:
				var l labelPair
				err := forEachField(v, func(num protowire.Number, v []byte) (err error) {
					switch num {
					case 1:
						l.name, err = protoString("types.v1.LabelPair.name", v)
					case 2:
						l.value, err = protoString("types.v1.LabelPair.value", v)
					}
					return err
				})
				ser.labels = append(ser.labels, l)
				return err
			case 2:
				var smp rawSample
				err := forEachField(v, func(num protowire.Number, v []byte) (err error) {
					switch num {
					case 1:
						smp.profile = append([]byte(nil), v...)
					case 2:
						smp.id, err = protoString("push.v1.RawSample.ID", v)
					}
					return err
				})
				ser.samples = append(ser.samples, smp)
				return err
			}
			return nil
		})
		out = append(out, ser)
		return err
	})
	return out, err
}

// ---- generic /pprof ------------------------------------------------------

// handlePprof accepts any pprof body, undoing Content-Encoding: gzip, and
// records it without Pyroscope's rules.
func (s *server) handlePprof(req *request) result {
	e := req.base
	body, aerr := decodeBody(req.body, e.ContentEncoding, s.cfg.maxBody)
	if aerr != nil {
		if aerr.status == 501 {
			aerr.status, aerr.code = 415, codeFor(415)
		}
		return result{err: aerr}
	}
	if e.ContentEncoding != "" {
		e.DecodedBytes = len(body)
	}
	if len(body) == 0 {
		return result{err: errorf(422, "%v", errors.New("empty body"))}
	}
	p, sum, err := decodeProfile(body)
	if err != nil {
		return result{err: errorf(422, "%v", err)}
	}
	e.summary = sum
	e.Name = profileName(p)
	return result{stored: true}
}
