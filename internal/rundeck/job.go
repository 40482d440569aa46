package rundeck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// ExportOptions shape the exported job.
type ExportOptions struct {
	// Inventory is the inventory file, as given; the job uses its absolute path.
	Inventory string
	// Plan is the plan option's default.
	Plan string
	// Pitstop is the pitstop program on the Rundeck node ("pitstop": found on PATH).
	Pitstop string
	// Node, when set, is the Rundeck node the job runs on (a node filter "name: NODE"); otherwise the
	// job runs on the Rundeck server itself.
	Node string
}

// Job is one Rundeck job definition in the YAML format `rd jobs load` and a project import accept.
type Job struct {
	Name                   string       `yaml:"name"`
	Group                  string       `yaml:"group"`
	Description            string       `yaml:"description"`
	LogLevel               string       `yaml:"loglevel"`
	MultipleExecutions     bool         `yaml:"multipleExecutions"`
	NodeFilters            *NodeFilters `yaml:"nodefilters,omitempty"`
	NodesSelectedByDefault *bool        `yaml:"nodesSelectedByDefault,omitempty"`
	Options                []JobOption  `yaml:"options"`
	Sequence               Sequence     `yaml:"sequence"`
}

// NodeFilters is where the job runs.
type NodeFilters struct {
	Filter string `yaml:"filter"`
}

// JobOption is one option a launcher fills in.
type JobOption struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Required    bool     `yaml:"required"`
	Value       string   `yaml:"value"`
	Values      []string `yaml:"values,omitempty"`
	Enforced    bool     `yaml:"enforced,omitempty"`
	Regex       string   `yaml:"regex,omitempty"`
}

// Sequence is the job's workflow.
type Sequence struct {
	KeepGoing bool      `yaml:"keepgoing"`
	Strategy  string    `yaml:"strategy"`
	Commands  []Command `yaml:"commands"`
}

// Command is one workflow step: a command line run by the node's shell.
type Command struct {
	Description string `yaml:"description"`
	Exec        string `yaml:"exec"`
}

// versionOption is what the version option accepts: it ends up in a sed expression and a file.
const versionOption = `^[A-Za-z0-9][A-Za-z0-9._+~-]*$`

// upgradeVersionLine is the line of the inventory the job rewrites with the chosen version: the
// version key right under upgrade:, indented two spaces as Pitstop's examples and drafts write it.
var upgradeVersionLine = regexp.MustCompile(`(?m)^  version:.*$`)

// ExportJob builds the job that runs a plan of inv headless: pitstop run --auto-approve on a copy of
// the inventory whose upgrade.version is the version option. Pitstop has no flag that overrides the
// version, so the job writes that copy next to the inventory (relative paths in it keep working).
func ExportJob(inv *inventory.Inventory, opt ExportOptions) ([]Job, error) {
	abs, err := filepath.Abs(opt.Inventory)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, err
	}
	if n := len(upgradeVersionLine.FindAll(data, -1)); n != 1 {
		return nil, fmt.Errorf("%s: the job sets the version by rewriting the line \"  version: …\" under upgrade:, and the file has %d such lines; write upgrade.version on its own line, indented two spaces", opt.Inventory, n)
	}
	if _, err := steps.Build(inv, opt.Plan); err != nil {
		return nil, err
	}
	if opt.Pitstop == "" {
		opt.Pitstop = "pitstop"
	}
	dir, base := filepath.Split(abs)
	copyPath := filepath.Join(dir, "."+strings.TrimSuffix(base, filepath.Ext(base))+".rundeck.yaml")
	// Rundeck replaces ${option.NAME} in each command line; the options' regex and value list keep
	// what it inserts to safe characters. The commands use no shell syntax (no >, no &&): each is one
	// program with its arguments, however the node runs it, and the job stops at the first that fails.
	commands := []Command{
		{Description: "copy the inventory", Exec: shell.Join("cp", abs, copyPath)},
		{Description: "set upgrade.version to the version option", Exec: shell.Join("sed", "-i", "-E", `s/^  version:.*$/  version: "${option.version}"/`, copyPath)},
		{Description: "run the Pitstop plan headless", Exec: shell.Join(opt.Pitstop, "run", "-i", copyPath, "--plan") + " ${option.plan} --auto-approve"},
	}
	job := Job{
		Name:        fmt.Sprintf("pitstop %s upgrade", inv.Name),
		Group:       "pitstop",
		Description: fmt.Sprintf("Upgrade %s with Pitstop, headless: runs the chosen plan of %s with gates confirmed once their conditions hold; the log is Pitstop's event lines. Exported by pitstop export rundeck.", inv.Name, abs),
		LogLevel:    "INFO",
		Options: []JobOption{
			{Name: "version", Description: "the version to install (upgrade.version of the inventory)", Required: true, Value: inv.Upgrade.Version, Regex: versionOption},
			{Name: "plan", Description: "the Pitstop plan to run", Required: true, Value: opt.Plan, Values: steps.PlanNames(), Enforced: true},
		},
		Sequence: Sequence{Strategy: "node-first", Commands: commands},
	}
	if opt.Node != "" {
		yes := true
		job.NodeFilters = &NodeFilters{Filter: "name: " + opt.Node}
		job.NodesSelectedByDefault = &yes
	}
	return []Job{job}, nil
}

// MarshalJobs renders jobs as Rundeck's YAML job list.
func MarshalJobs(jobs []Job) ([]byte, error) {
	return yaml.Marshal(jobs)
}
