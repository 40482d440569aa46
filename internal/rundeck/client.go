package rundeck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// DefaultAPIVersion is the API version in request paths when the inventory names none. Rundeck
// answers every version from 14 up to its own.
const DefaultAPIVersion = 41

// Sentinel errors callers branch on.
var (
	// ErrUnauthorized: Rundeck refused the token (HTTP 401 or 403).
	ErrUnauthorized = errors.New("Rundeck refused the API token")
	// ErrNotFound: no such job or execution (HTTP 404).
	ErrNotFound = errors.New("not found in Rundeck")
	// ErrUnreachable: no HTTP answer from Rundeck at all.
	ErrUnreachable = errors.New("Rundeck is unreachable")
)

// Client calls Rundeck's HTTP API with a token (X-Rundeck-Auth-Token). It never prints the token.
type Client struct {
	// Base is Rundeck's base URL, e.g. https://rundeck.example.com.
	Base *url.URL
	// Version is the API version in request paths.
	Version int
	// HTTP is the client used (http.DefaultClient with a timeout when nil).
	HTTP  *http.Client
	token string
}

// New returns a client for the Rundeck at base with token.
func New(base, token string, version int) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the Rundeck URL is not http(s)://host[:port][/path]")
	}
	if strings.TrimSpace(token) == "" {
		return nil, fmt.Errorf("the Rundeck API token is empty")
	}
	if version == 0 {
		version = DefaultAPIVersion
	}
	return &Client{Base: u, Version: version, token: strings.TrimSpace(token), HTTP: &http.Client{Timeout: 30 * time.Second}}, nil
}

// FromInventory builds the client from the inventory's rundeck: section, falling back to RD_URL and
// RD_TOKEN. A relative token_file is relative to the inventory file.
func FromInventory(inv *inventory.Inventory) (*Client, error) {
	base := inv.Rundeck.URL
	if base == "" {
		base = os.Getenv("RD_URL")
	}
	if base == "" {
		return nil, errors.New("rundeck.url is missing and RD_URL is not set; add rundeck: {url: …, token_file: …} to the inventory")
	}
	token := ""
	if f := inv.Rundeck.TokenFile; f != "" {
		if !filepath.IsAbs(f) && inv.Source != "" {
			f = filepath.Join(filepath.Dir(inv.Source), f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("rundeck.token_file: %w; put the Rundeck API token in that file (mode 0600)", err)
		}
		token = string(b)
	} else {
		token = os.Getenv("RD_TOKEN")
	}
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("no Rundeck API token: rundeck.token_file is missing (or the file is empty) and RD_TOKEN is not set")
	}
	c, err := New(base, token, inv.Rundeck.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("rundeck.url (or RD_URL): %w", err)
	}
	return c, nil
}

// APIError is an error answer from Rundeck.
type APIError struct {
	Op     string // e.g. "run job 3f2a…"
	Status int
	Code   string // Rundeck's errorCode, e.g. api.error.item.doesnotexist
	Msg    string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: Rundeck answered HTTP %d", e.Op, e.Status)
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Unwrap maps the status to the sentinel errors.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	case http.StatusNotFound:
		return ErrNotFound
	}
	return nil
}

// do sends one request and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	u := *c.Base
	u.Path = strings.TrimRight(u.Path, "/") + fmt.Sprintf("/api/%d/", c.Version) + strings.TrimLeft(path, "/")
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("X-Rundeck-Auth-Token", c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w at %s: %v; check rundeck.url (or RD_URL) and that Rundeck runs there", op, ErrUnreachable, c.Base.Redacted(), trimURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s: reading Rundeck's answer: %w", op, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &APIError{Op: op, Status: resp.StatusCode}
		var body struct {
			ErrorCode string `json:"errorCode"`
			Message   string `json:"message"`
		}
		if json.Unmarshal(data, &body) == nil {
			e.Code, e.Msg = body.ErrorCode, body.Message
		}
		if e.Msg == "" && (e.Status == 401 || e.Status == 403) {
			e.Msg = "the token is wrong, expired, or not allowed this action by Rundeck's ACLs"
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s: Rundeck's answer is not the JSON expected (is %s a Rundeck, API version %d?): %v", op, c.Base.Redacted(), c.Version, err)
		}
	}
	return nil
}

// trimURLError drops the URL net/http repeats in its error.
func trimURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// SystemInfo checks that Rundeck answers and takes the token: GET /api/{v}/system/info.
func (c *Client) SystemInfo(ctx context.Context) (version string, err error) {
	var info struct {
		System struct {
			Rundeck struct {
				Version string `json:"version"`
			} `json:"rundeck"`
		} `json:"system"`
	}
	if err := c.do(ctx, "connect", http.MethodGet, "system/info", nil, nil, &info); err != nil {
		return "", err
	}
	return info.System.Rundeck.Version, nil
}

// JobInfo is what Rundeck says about a job.
type JobInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Group     string `json:"group"`
	Project   string `json:"project"`
	Permalink string `json:"permalink"`
}

// Job reads a job's definition summary: GET /api/{v}/job/{id}/info.
func (c *Client) Job(ctx context.Context, id string) (*JobInfo, error) {
	var info JobInfo
	if err := c.do(ctx, "look up job "+id, http.MethodGet, "job/"+url.PathEscape(id)+"/info", nil, nil, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Execution is one run of a job.
type Execution struct {
	ID        int64  `json:"id"`
	Href      string `json:"href"`
	Permalink string `json:"permalink"`
	// Status is running, succeeded, failed, aborted, timedout, failed-with-retry, scheduled or other.
	Status string `json:"status"`
	Job    struct {
		Name string `json:"name"`
	} `json:"job"`
}

// Run starts job id with options (and, when filter is set, that node filter):
// POST /api/{v}/job/{id}/run.
func (c *Client) Run(ctx context.Context, id string, options map[string]string, filter string) (*Execution, error) {
	body := map[string]any{}
	if len(options) > 0 {
		body["options"] = options
	}
	if filter != "" {
		body["filter"] = filter
	}
	var ex Execution
	if err := c.do(ctx, "run job "+id, http.MethodPost, "job/"+url.PathEscape(id)+"/run", nil, body, &ex); err != nil {
		return nil, err
	}
	if ex.ID == 0 {
		return nil, fmt.Errorf("run job %s: Rundeck's answer has no execution id", id)
	}
	return &ex, nil
}

// Execution reads an execution's state: GET /api/{v}/execution/{id}.
func (c *Client) Execution(ctx context.Context, id int64) (*Execution, error) {
	var ex Execution
	if err := c.do(ctx, "read execution "+strconv.FormatInt(id, 10), http.MethodGet, "execution/"+strconv.FormatInt(id, 10), nil, nil, &ex); err != nil {
		return nil, err
	}
	return &ex, nil
}

// LogEntry is one line of an execution's log.
type LogEntry struct {
	Log   string `json:"log"`
	Level string `json:"level"`
	Node  string `json:"node"`
	Time  string `json:"time"`
	Step  string `json:"stepctx"`
}

// Output is a piece of an execution's log.
type Output struct {
	Entries []LogEntry `json:"entries"`
	// Offset is where to read from next; LastMod goes with it.
	Offset  flexInt `json:"offset"`
	LastMod flexInt `json:"lastModified"`
	// Completed: the whole log has been read. ExecCompleted: the execution has ended.
	Completed     bool   `json:"completed"`
	ExecCompleted bool   `json:"execCompleted"`
	ExecState     string `json:"execState"`
	Unmodified    bool   `json:"unmodified"`
}

// flexInt reads a number Rundeck writes either as a JSON number or as a string.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	*f = flexInt(n)
	return err
}

// Output reads the log from offset: GET /api/{v}/execution/{id}/output?offset=&lastmod=.
func (c *Client) Output(ctx context.Context, id int64, offset, lastmod int64) (*Output, error) {
	q := url.Values{"offset": {strconv.FormatInt(offset, 10)}, "lastmod": {strconv.FormatInt(lastmod, 10)}}
	var out Output
	if err := c.do(ctx, "read the log of execution "+strconv.FormatInt(id, 10), http.MethodGet, "execution/"+strconv.FormatInt(id, 10)+"/output", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Abort asks Rundeck to abort an execution: POST /api/{v}/execution/{id}/abort. It returns the
// abort's status (pending, aborted or failed).
func (c *Client) Abort(ctx context.Context, id int64) (string, error) {
	var res struct {
		Abort struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"abort"`
	}
	if err := c.do(ctx, "abort execution "+strconv.FormatInt(id, 10), http.MethodPost, "execution/"+strconv.FormatInt(id, 10)+"/abort", nil, nil, &res); err != nil {
		return "", err
	}
	if res.Abort.Status == "failed" {
		return res.Abort.Status, fmt.Errorf("abort execution %d: Rundeck could not abort it: %s", id, res.Abort.Reason)
	}
	return res.Abort.Status, nil
}
