// Pyroscope's /ingest API as it treats pprof: the name=APP{k=v} key, the
// two upload modes (raw ?format=pprof, or multipart with no format), the
// filename= quirk of multipart parts, and from/until in any epoch unit.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"time"
)

// sampleTypeConfig is one value of the sample_type_config JSON; typed so a
// field of the wrong JSON type fails the way it does in Pyroscope.
type sampleTypeConfig struct {
	Units       string `json:"units,omitempty"`
	DisplayName string `json:"display-name,omitempty"`
	Aggregation string `json:"aggregation,omitempty"`
	Cumulative  bool   `json:"cumulative,omitempty"`
	Sampled     bool   `json:"sampled,omitempty"`
}

// ingestMeta reads the query: it needs no body, so it runs for every request.
func ingestMeta(req *request) {
	q := req.r.URL.Query()
	e := req.base
	e.Format = q.Get("format")
	e.Spy = q.Get("spyName")
	e.From, e.Until = q.Get("from"), q.Get("until")
	e.FromNs, e.UntilNs = parseEpoch(e.From), parseEpoch(e.Until)
	if mt, _, err := mime.ParseMediaType(e.ContentType); err == nil && mt == "multipart/form-data" {
		e.Multipart = true
	}
	app, labels, err := parseKey(q.Get("name"))
	e.App = app
	if labels != nil {
		e.Labels = labels
	}
	if err != nil {
		req.metaErr = errorf(400, "%v", err)
	}
}

// parseKey reads name=APP{k=v,...}: app [A-Za-z0-9_.\-/]+, keys [A-Za-z0-9_.]+,
// values up to the next , or } with no way to escape, so , } { = are refused.
func parseKey(name string) (string, map[string]string, error) {
	if name == "" {
		return "", nil, fmt.Errorf("name parameter is required")
	}
	app, rest := name, ""
	if i := strings.IndexByte(name, '{'); i >= 0 {
		app, rest = name[:i], name[i:]
	}
	if app == "" {
		return "", nil, fmt.Errorf("invalid name %q: empty application name", name)
	}
	for _, c := range app {
		if !(isAlnum(c) || strings.ContainsRune("_.-/", c)) {
			return app, nil, fmt.Errorf("invalid name %q: application name holds %q", name, c)
		}
	}
	labels := map[string]string{}
	if rest == "" {
		return app, labels, nil
	}
	if !strings.HasSuffix(rest, "}") {
		return app, nil, fmt.Errorf("invalid name %q: labels must end with }", name)
	}
	body := rest[1 : len(rest)-1]
	if body == "" {
		return app, labels, nil
	}
	for _, pair := range strings.Split(body, ",") {
		eq := strings.IndexByte(pair, '=')
		if eq < 0 {
			return app, nil, fmt.Errorf("invalid name %q: label %q has no =", name, pair)
		}
		k, v := pair[:eq], pair[eq+1:]
		if k == "" {
			return app, nil, fmt.Errorf("invalid name %q: empty label key", name)
		}
		for _, c := range k {
			if !(isAlnum(c) || c == '_' || c == '.') {
				return app, nil, fmt.Errorf("invalid name %q: label key %q holds %q", name, k, c)
			}
		}
		if strings.ContainsAny(v, ",{}=") {
			return app, nil, fmt.Errorf("invalid name %q: label value %q holds one of , { } =", name, v)
		}
		if _, dup := labels[k]; dup {
			return app, nil, fmt.Errorf("invalid name %q: duplicate label key %q", name, k)
		}
		labels[k] = v
	}
	return app, labels, nil
}

func isAlnum(c rune) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// parseEpoch turns from/until into unix ns; the digit count picks the unit.
// Anything else (for example "now-10s") is recorded as 0.
func parseEpoch(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	switch len(s) {
	case 10:
		return n * int64(time.Second)
	case 13:
		return n * int64(time.Millisecond)
	case 16:
		return n * int64(time.Microsecond)
	case 19:
		return n
	}
	return 0
}

func (s *server) handleIngest(req *request) result {
	e := req.base
	if req.metaErr != nil {
		return result{err: req.metaErr}
	}
	var data []byte
	switch {
	case e.Format == "pprof":
		// Even a multipart body is taken as the pprof itself here.
		data = req.body
	case e.Format == "" && e.Multipart:
		var res *result
		data, res = readIngestForm(req)
		if res != nil {
			return *res
		}
	default:
		as := e.Format
		if as == "" {
			as = "folded"
		}
		return result{reason: fmt.Sprintf("format %q: not a pprof upload, Pyroscope reads the body as %s text", e.Format, as)}
	}
	if len(data) == 0 {
		return result{reason: "empty profile"}
	}

	p, sum, err := decodeProfile(data)
	if err != nil {
		return result{err: errorf(422, "%v", err)}
	}
	e.summary = sum
	e.Name = profileName(p)

	series := map[string]string{"__name__": e.Name, "service_name": e.App}
	for k, v := range e.Labels {
		series[strings.ReplaceAll(k, ".", "_")] = v
	}
	if e.Spy != "" {
		series["pyroscope_spy"] = e.Spy
	}
	if errs := validateProfile(p, sum, time.Now(), series); len(errs) > 0 {
		return result{err: errorf(422, "%s", joinErrors(errs))}
	}
	return result{stored: true}
}

// readIngestForm picks the parts Pyroscope reads: only those whose
// Content-Disposition carries a filename. A nil result means go on.
func readIngestForm(req *request) ([]byte, *result) {
	e := req.base
	_, params, _ := mime.ParseMediaType(e.ContentType)
	boundary := params["boundary"]
	if boundary == "" {
		return nil, &result{err: errorf(422, "multipart/form-data without a boundary")}
	}
	e.Parts = map[string]string{}
	var profileData, config []byte
	var haveProfile, haveConfig bool
	mr := multipart.NewReader(bytes.NewReader(req.body), boundary)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &result{err: errorf(422, "reading multipart form: %v", err)}
		}
		name, file := part.FormName(), part.FileName()
		content, err := io.ReadAll(part)
		if err != nil {
			return nil, &result{err: errorf(422, "reading multipart part %q: %v", name, err)}
		}
		if _, seen := e.Parts[name]; !seen {
			e.Parts[name] = file
		}
		if file == "" {
			continue // a form value, not a file: Pyroscope never looks at it
		}
		switch name {
		case "profile":
			if !haveProfile {
				profileData, haveProfile = content, true
			}
		case "prev_profile":
			return nil, &result{err: errorf(400, "prev_profile is not supported: send one complete profile per upload")}
		case "sample_type_config":
			if !haveConfig {
				config, haveConfig = content, true
			}
		}
	}
	if haveConfig {
		e.SampleTypeConfig = string(config)
		var cfg map[string]*sampleTypeConfig
		if err := json.Unmarshal(config, &cfg); err != nil {
			return nil, &result{err: errorf(422, "sample_type_config: %v", err)}
		}
	}
	if !haveProfile {
		if _, ok := e.Parts["profile"]; ok {
			return nil, &result{reason: "part without filename"}
		}
		return nil, &result{reason: "no profile part"}
	}
	return profileData, nil
}

func joinErrors(errs []*apiError) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.msg
	}
	return strings.Join(msgs, "; ")
}
