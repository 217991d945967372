package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func newLogitsCmd() *cobra.Command {
	var mf modelFlags
	var tokens, out string
	cmd := &cobra.Command{
		Use:   "logits -m MODEL --tokens 0,15,27 -o out.f32",
		Short: "Write the logits of every position of a token sequence",
		Long: `logits runs the token ids as one prompt and writes little-endian float32
logits [n_tokens × n_vocab] for every position (the format of the fixtures'
*.logits.f32 files), to compare engines number by number.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ids, err := parseIDs(tokens)
			if err != nil {
				return err
			}
			if out == "" {
				return fmt.Errorf("no output file: pass -o out.f32")
			}
			e, err := mf.load(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			nv := e.Model.Config.NVocab
			for i, id := range ids {
				if id < 0 || int(id) >= nv {
					return fmt.Errorf("--tokens: id %d at index %d is outside the vocabulary [0, %d)", id, i, nv)
				}
			}
			s := e.NewSequence()
			defer s.Close()
			logits, err := s.Eval(cmd.Context(), ids, true)
			if err != nil {
				return err
			}
			return writeF32(out, logits)
		},
	}
	mf.register(cmd)
	cmd.Flags().StringVar(&tokens, "tokens", "", "comma-separated token ids")
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (- for stdout)")
	return cmd
}

func parseIDs(s string) ([]int32, error) { return parseIDList("--tokens", s) }

// parseIDList parses comma- or space-separated token ids; what names the
// argument in error messages.
func parseIDList(what, s string) ([]int32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("no tokens: pass %s 1,2,3", what)
	}
	var ids []int32
	for i, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s: item %d %q is not a token id", what, i, f)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}

func writeF32(path string, v []float32) error {
	var f *os.File
	if path == "-" {
		f = os.Stdout
	} else {
		var err error
		if f, err = os.Create(path); err != nil {
			return err
		}
	}
	w := bufio.NewWriter(f)
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if f != os.Stdout {
		return f.Close()
	}
	return nil
}
