package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/store"
)

func init() { extraCommands = append(extraCommands, newRmCmd) }

func newRmCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove models from the local store (files other names still use are kept)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := storeAt(dir)
			if err != nil {
				return err
			}
			for _, n := range args {
				if err := st.Remove(n); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						if _, serr := os.Stat(st.Root); errors.Is(serr, os.ErrNotExist) {
							return fmt.Errorf("%s: not in the store: there is no store at %s: %w", n, st.Root, store.ErrNotFound)
						}
						return fmt.Errorf("%s: not in the store at %s (`dseek list` shows what is): %w", n, st.Root, store.ErrNotFound)
					}
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", n)
			}
			return nil
		},
	}
	addModelsDir(cmd, &dir)
	return cmd
}
