package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/store"
)

func init() { extraCommands = append(extraCommands, newListCmd) }

func newListCmd() *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the models in the local store",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := storeAt(dir)
			if err != nil {
				return err
			}
			// A damaged manifest is reported after the readable ones.
			ms, listErr := st.List()
			if asJSON {
				if ms == nil {
					ms = []*store.Manifest{} // an empty store prints [], not null (nil[:0:0] is still nil)
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(ms); err != nil {
					return err
				}
				return listErr
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSIZE\tQUANT\tARCH\tMODIFIED")
			for _, m := range ms {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", m.Name, humanBytes(m.Size), m.Quant, m.Arch, m.Modified.Local().Format("2006-01-02 15:04"))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return listErr
		},
	}
	addModelsDir(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the manifests as JSON")
	return cmd
}
