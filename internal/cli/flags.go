package cli

import "flag"

// inventoryVar registers the inventory flag under its short name -i and its long name --inventory,
// both setting p, so every command takes either spelling.
func inventoryVar(fs *flag.FlagSet, p *string, def, usage string) {
	fs.StringVar(p, "i", def, usage)
	fs.StringVar(p, "inventory", def, "the same as -i `FILE`")
}

// inventoryFlag is inventoryVar with a new variable.
func inventoryFlag(fs *flag.FlagSet, def, usage string) *string {
	p := new(string)
	inventoryVar(fs, p, def, usage)
	return p
}
