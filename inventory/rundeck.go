package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// RundeckConfig is how Pitstop reaches Rundeck when a command is a Rundeck job.
type RundeckConfig struct {
	// URL is Rundeck's base URL, e.g. https://rundeck.example.com (RD_URL when empty).
	URL string `yaml:"url"`
	// TokenFile holds the API token, relative to the inventory file (RD_TOKEN when empty).
	TokenFile string `yaml:"token_file"`
	// APIVersion is the API version in request paths (default 41; Rundeck 3.4 and later speak it).
	APIVersion int `yaml:"api_version"`
}

// RundeckJob is a command that runs a Rundeck job instead of a shell command: in a command list it
// is written as a mapping, - rundeck: {job: ID, options: {version: "{version}"}, filter: "name: {host}"}.
// Placeholders work in the options and the filter, without shell quoting.
type RundeckJob struct {
	// Job is the job's UUID.
	Job string `yaml:"job" json:"job"`
	// Options are the job's options for this run.
	Options map[string]string `yaml:"options" json:"options,omitempty"`
	// Filter, when set, replaces the job's node filter for this run.
	Filter string `yaml:"filter" json:"filter,omitempty"`
}

// rundeckPrefix starts the text form of a Rundeck job in a command list.
const rundeckPrefix = "rundeck "

// String is the job's text form, as it stands in a command list and in the plan: "rundeck {JSON}".
func (j *RundeckJob) String() string {
	b, _ := json.Marshal(j)
	return rundeckPrefix + string(b)
}

// ParseRundeckJob reads a command's text form; ok is false when cmd is a shell command.
func ParseRundeckJob(cmd string) (job *RundeckJob, ok bool, err error) {
	rest, found := strings.CutPrefix(cmd, rundeckPrefix)
	if !found || !strings.HasPrefix(rest, "{") {
		return nil, false, nil
	}
	job = &RundeckJob{}
	dec := json.NewDecoder(strings.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(job); err != nil {
		return nil, true, fmt.Errorf("the Rundeck job %s is not valid: %v", rest, err)
	}
	return job, true, nil
}

// CommandList is a list of commands: each item a shell command, or a Rundeck job written as a
// mapping (see RundeckJob), kept in its text form so that everything downstream handles strings.
type CommandList []string

// commandItem is one item of a CommandList as YAML writes it.
type commandItem struct {
	Rundeck *RundeckJob `yaml:"rundeck"`
}

// UnmarshalYAML reads each item as a string or as a rundeck: mapping.
func (c *CommandList) UnmarshalYAML(unmarshal func(any) error) error {
	var raw []any
	if err := unmarshal(&raw); err != nil {
		return err
	}
	out := make(CommandList, 0, len(raw))
	for _, r := range raw {
		switch v := r.(type) {
		case string:
			out = append(out, v)
		case map[string]any:
			b, err := json.Marshal(v["rundeck"])
			if err != nil {
				return err
			}
			var j RundeckJob
			if err := json.Unmarshal(b, &j); err != nil || v["rundeck"] == nil {
				return errors.New("a command is a string, or rundeck: with job: and options:")
			}
			out = append(out, j.String())
		default:
			return fmt.Errorf("a command is a string, or rundeck: with job: and options:; found %T", r)
		}
	}
	*c = out
	return nil
}

// UsesRundeck reports whether any upgrade or migrate command is a Rundeck job.
func (inv *Inventory) UsesRundeck() bool {
	for _, c := range append(append([]string{}, inv.Upgrade.Commands...), inv.Upgrade.Migrate.Commands...) {
		if _, ok, _ := ParseRundeckJob(c); ok {
			return true
		}
	}
	return false
}

// expandRundeck replaces the placeholders in the job's options and filter with host's values, as
// they are: they go to Rundeck's API, not to a shell.
func (inv *Inventory) expandRundeck(j *RundeckJob, host string) string {
	raw := func(s string) string {
		return inv.expand(s, host, inv.DatabaseURL(), func(v string) string { return v })
	}
	out := RundeckJob{Job: j.Job, Filter: raw(j.Filter)}
	if len(j.Options) > 0 {
		out.Options = map[string]string{}
		for k, v := range j.Options {
			out.Options[k] = raw(v)
		}
	}
	return out.String()
}

// checkRundeck checks a command that is a Rundeck job, and that Pitstop can reach Rundeck.
func (c *checker) checkRundeck(path string, j *RundeckJob, err error) {
	if err != nil {
		c.errorf(path, "%s: %v; write - rundeck: {job: JOB_ID, options: {version: \"{version}\"}}", path, err)
		return
	}
	if blank(j.Job) {
		c.errorf(path, "%s is a Rundeck job without job:; give the job's UUID (Rundeck shows it on the job's page)", path)
	}
	texts := []string{j.Filter}
	for _, v := range j.Options {
		texts = append(texts, v)
	}
	for _, t := range texts {
		for _, name := range placeholdersIn(t) {
			if !isPlaceholder(name) {
				c.errorf(path, "%s uses {%s}, which is not a placeholder; the placeholders are {host}, {serve}, {addr} and {version}", path, name)
			}
		}
	}
	if c.inv.Rundeck.URL == "" && os.Getenv("RD_URL") == "" {
		c.errorf(path, "%s is a Rundeck job, but rundeck.url is missing and RD_URL is not set; add rundeck: {url: https://rundeck.example.com, token_file: rundeck.token}", path)
	} else if c.inv.Rundeck.URL != "" {
		c.checkURL("rundeck.url", c.inv.Rundeck.URL)
	}
	if c.inv.Rundeck.APIVersion != 0 && c.inv.Rundeck.APIVersion < 14 {
		c.errorf("rundeck.api_version", "rundeck.api_version %d is too old; Pitstop speaks version 14 and later (default 41)", c.inv.Rundeck.APIVersion)
	}
}
