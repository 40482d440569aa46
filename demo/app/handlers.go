package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Response headers every answer carries, so a probe behind the balancer sees who served it.
const (
	HeaderVersion  = "X-App-Version"
	HeaderInstance = "X-App-Instance"
)

// Limits of the API.
const (
	defaultLimit = 20
	maxLimit     = 100
	maxNameLen   = 200
	maxBody      = 64 << 10
	// dbTimeout bounds the database work of one request.
	dbTimeout = 3 * time.Second
)

// Health is the body of GET /health.
type Health struct {
	Version  string `json:"version"`
	Instance string `json:"instance"`
	// Database is "up" when the database answered, "down" otherwise.
	Database string `json:"database"`
	DBStatus
	Error string `json:"error,omitempty"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error    string `json:"error"`
	Message  string `json:"message"`
	Version  string `json:"version"`
	Instance string `json:"instance"`
}

// newItem is the body of POST /items. Unknown fields are ignored, so a v2 client's note does not
// break v1. A body without a name is a probe's write (Pitstop's probe posts {"probe":"pitstop","n":N});
// it still exercises the write path, under the name "probe N".
type newItem struct {
	Name  *string `json:"name"`
	Note  string  `json:"note"`
	Probe string  `json:"probe"`
	N     int64   `json:"n"`
}

type handler struct {
	cfg Config
	st  *store
}

func newHandler(cfg Config, st *store) http.Handler {
	h := &handler{cfg: cfg, st: st}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", h.health)
	if cfg.Variant == VariantJSON {
		mux.HandleFunc("GET /status", h.status)
	}
	mux.HandleFunc("GET /items", h.listItems)
	mux.HandleFunc("POST /items", h.createItem)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/items" || r.URL.Path == "/health" {
			h.fail(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		h.fail(w, http.StatusNotFound, "not_found", "no such endpoint: try GET /items, POST /items or GET /health")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cfg.Variant != VariantJSON { // the variant says its version only in /status's body
			w.Header().Set(HeaderVersion, cfg.Version)
		}
		w.Header().Set(HeaderInstance, cfg.Instance)
		mux.ServeHTTP(w, r)
	})
}

// Status is the body of the JSON variant's GET /status, where it says its version.
type Status struct {
	Release  string `json:"release"`
	Instance string `json:"instance"`
	Database string `json:"database"`
}

// status answers the JSON variant's GET /status: 200 with the release while the database answers.
func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), dbTimeout)
	defer cancel()
	body := Status{Release: h.cfg.Version, Instance: h.cfg.Instance, Database: "up"}
	code := http.StatusOK
	if _, err := h.st.status(ctx); err != nil {
		body.Database, code = "down", http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), dbTimeout)
	defer cancel()
	body := Health{Version: h.cfg.Version, Instance: h.cfg.Instance, Database: "up"}
	if h.cfg.Variant == VariantJSON {
		body.Version = "" // only /status says it
	}
	st, err := h.st.status(ctx)
	if err != nil {
		kind, status := classify(err)
		body.Database = "down"
		if kind != errUnavailable {
			body.Database = "error"
		}
		body.Error = "the database did not answer: " + oneLine(err.Error())
		w.Header().Set("Retry-After", "1")
		writeJSON(w, status, body)
		return
	}
	body.DBStatus = st
	writeJSON(w, http.StatusOK, body)
}

func (h *handler) listItems(w http.ResponseWriter, r *http.Request) {
	limit := defaultLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			h.fail(w, http.StatusBadRequest, "bad_limit", "limit must be a number from 1 to "+strconv.Itoa(maxLimit))
			return
		}
		limit = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), dbTimeout)
	defer cancel()
	items, err := h.st.list(ctx, limit)
	if err != nil {
		h.dbFail(w, err)
		return
	}
	if items == nil {
		items = []Item{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (h *handler) createItem(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		h.fail(w, http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than 64 KiB")
		return
	}
	var in newItem
	if len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &in); err != nil {
			h.fail(w, http.StatusBadRequest, "bad_json", `the body must be JSON like {"name":"…"}: `+err.Error())
			return
		}
	}
	name := "probe"
	switch {
	case in.Name != nil:
		name = strings.TrimSpace(*in.Name)
	case in.N != 0:
		name = "probe " + strconv.FormatInt(in.N, 10)
	}
	if name == "" || len(name) > maxNameLen {
		h.fail(w, http.StatusBadRequest, "bad_name", "name must be 1 to "+strconv.Itoa(maxNameLen)+" bytes")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), dbTimeout)
	defer cancel()
	item, err := h.st.create(ctx, name, in.Note)
	if err != nil {
		h.dbFail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, item)
}

// dbFail answers a request whose database work failed: 503 with Retry-After for a read-only or
// unavailable database or a missing migration, 500 only for what is left (a bug).
func (h *handler) dbFail(w http.ResponseWriter, err error) {
	kind, status := classify(err)
	var msg string
	switch kind {
	case errReadOnly:
		msg = "the database is read-only (a hot standby, or a primary fenced for an upgrade): writes are refused; reads still work; retry in a moment"
	case errUnavailable:
		msg = "the database is unavailable: " + oneLine(err.Error())
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "the database did not answer within " + dbTimeout.String()
		}
	case errSchema:
		msg = "the database schema is not ready for " + h.cfg.Version + " (run the migration: pitstop lab migrate --db …): " + oneLine(err.Error())
	default:
		msg = "database error: " + oneLine(err.Error())
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if h.cfg.Variant == VariantJSON && kind == errReadOnly {
		// As many applications refuse: a plain 503 in words, nothing machine-readable.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, "read-only maintenance\n")
		return
	}
	h.fail(w, status, string(kind), msg)
}

func (h *handler) fail(w http.ResponseWriter, status int, code, msg string) {
	version := h.cfg.Version
	if h.cfg.Variant == VariantJSON {
		version = ""
	}
	writeJSON(w, status, ErrorBody{Error: code, Message: msg, Version: version, Instance: h.cfg.Instance})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
