package probe

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pitstop-ops/pitstop/inventory"
)

// versionReader reads the application's version from an answer, from the one source
// upgrade.verify names: a header, a dotted path into the JSON body, or a regular expression's group.
type versionReader struct {
	header string
	path   []string // JSON path, nil when not reading JSON
	re     *regexp.Regexp
	// none is set when the inventory checks the health status only.
	none bool
}

func newVersionReader(inv *inventory.Inventory) versionReader {
	v := inv.Upgrade.Verify
	switch {
	case v.HealthOnly:
		return versionReader{none: true}
	case v.JSON != "":
		return versionReader{path: strings.Split(v.JSON, ".")}
	case v.Body != "":
		re, err := regexp.Compile(v.Body)
		if err != nil { // validation refuses it; a reader that finds nothing says why
			return versionReader{re: regexp.MustCompile(`\A\z(x)`)}
		}
		return versionReader{re: re}
	}
	h := v.Header
	if h == "" {
		h = inv.Probe.VersionHeader
	}
	if h == "" {
		h = "X-App-Version"
	}
	return versionReader{header: h}
}

// needsBody reports whether the version is read from the body.
func (r versionReader) needsBody() bool { return r.path != nil || r.re != nil }

// read returns the version the answer carries, or "" and a note saying why there is none.
func (r versionReader) read(h http.Header, body []byte) (version, note string) {
	switch {
	case r.none:
		return "", ""
	case r.path != nil:
		return jsonPath(body, r.path)
	case r.re != nil:
		m := r.re.FindSubmatch(body)
		if m == nil {
			return "", fmt.Sprintf("the body does not match /%s/", r.re)
		}
		return strings.TrimSpace(string(m[1])), ""
	}
	v := strings.TrimSpace(h.Get(r.header))
	if v == "" {
		return "", "no " + r.header + " header"
	}
	return v, ""
}

// jsonPath follows path into a JSON body; a string, number or boolean at its end is the version.
func jsonPath(body []byte, path []string) (string, string) {
	var v any
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", "the body is not JSON"
	}
	for i, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return "", fmt.Sprintf("the JSON body has no object at %s", strings.Join(path[:i], "."))
		}
		if v, ok = m[key]; !ok {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if len(keys) > 8 {
				keys = append(keys[:8], "…")
			}
			return "", fmt.Sprintf("the JSON body has no field %s (it has %s)", strings.Join(path[:i+1], "."), strings.Join(keys, ", "))
		}
	}
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), ""
	case json.Number:
		return x.String(), ""
	case bool:
		return strconv.FormatBool(x), ""
	}
	return "", fmt.Sprintf("the JSON field %s is not a string or number", strings.Join(path, "."))
}

// refusalRule decides whether an answer to a probe write was a refusal: the database is read-only
// for the upgrade and the application said so (probe.refused; by default any 503).
type refusalRule struct {
	statuses []int
	body     *regexp.Regexp
}

func newRefusalRule(inv *inventory.Inventory) refusalRule {
	r := refusalRule{statuses: inv.Probe.Refused.Statuses()}
	if b := inv.Probe.Refused.Body; b != "" {
		r.body, _ = regexp.Compile(b) // validated by the inventory
	}
	return r
}

func (r refusalRule) refused(status int, body []byte) bool {
	if !slices.Contains(r.statuses, status) {
		return false
	}
	return r.body == nil || r.body.Match(body)
}
