package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/hub"
	"github.com/dseek-ai/dseek/store"
)

func init() { extraCommands = append(extraCommands, newPullCmd) }

// addModelsDir registers --models-dir (default: $DSEEK_MODELS, then the
// user's data directory).
func addModelsDir(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "models-dir", "", "model store directory (default $"+store.EnvModels+" or the user data dir)")
}

// openStore opens the store at dir ("" = the default), creating it: for
// commands that write to it (pull).
func openStore(dir string) (*store.Store, error) { return store.Open(dir) }

// storeAt is the store at dir ("" = the default) for commands that only
// read or remove (list, rm): it creates nothing, and a missing directory
// is an empty store.
func storeAt(dir string) (*store.Store, error) { return store.At(dir) }

func newPullCmd() *cobra.Command {
	var dir, rev string
	var parallel int
	cmd := &cobra.Command{
		Use:   "pull NAME",
		Short: "Download a GGUF model from Hugging Face into the local store",
		Long: `Download a model into the local store. NAME is hf.co/ORG/REPO[:QUANT] (default
quantization Q4_K_M; QUANT may also be a file name of the repository) or a
short alias (dseek pull --aliases lists them), e.g. deepseek-r1:1.5b or
deepseek-r1:7b-q8_0. Interrupted downloads resume. HF_TOKEN authenticates
(gated or private repositories), HF_ENDPOINT changes the hub.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if show, _ := cmd.Flags().GetBool("aliases"); show || len(args) == 0 {
				for _, a := range hub.Aliases() {
					fmt.Fprintf(cmd.OutOrStdout(), "%-24s hf.co/%-48s %s\n", a.Name, a.Repo, a.Note)
				}
				if len(args) == 0 && !show {
					return fmt.Errorf("no model name given (aliases above)")
				}
				return nil
			}
			st, err := openStore(dir)
			if err != nil {
				return err
			}
			opt := hub.PullOptions{Revision: rev, Download: hub.DownloadOptions{Parallel: parallel},
				Log: func(msg string) { fmt.Fprintln(os.Stderr, msg) }}
			opt.OnFile = func(p string, size, have int64) func(int64) {
				bar := newByteBar(path.Base(p), size, have)
				return func(n int64) { bar.Add64(n) }
			}
			m, err := hub.Pull(cmd.Context(), hub.NewClient(), st, args[0], opt)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) {
					return fmt.Errorf("%w\n(cannot reach the hub: check the network, or set HF_ENDPOINT to a mirror; an interrupted download resumes when you pull again)", err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s %s, %s\n%s\n", m.Name, m.Arch, m.Quant, humanBytes(m.Size), st.ModelPath(m))
			return nil
		},
	}
	addModelsDir(cmd, &dir)
	cmd.Flags().StringVar(&rev, "revision", "main", "repository branch, tag or commit")
	cmd.Flags().IntVar(&parallel, "parallel", 4, "concurrent range requests per file")
	cmd.Flags().Bool("aliases", false, "list the short model names and exit")
	return cmd
}
