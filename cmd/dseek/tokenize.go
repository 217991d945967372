package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/store"
	"github.com/dseek-ai/dseek/tokenizer"
)

// openTokenizer reads only the tokenizer of a GGUF file.
func openTokenizer(model string) (*tokenizer.Tokenizer, error) {
	if model == "" {
		return nil, fmt.Errorf("no model: pass -m path/to/model.gguf or a name from dseek list")
	}
	path, err := store.Resolve(model)
	if err != nil {
		return nil, err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tok, nil
}

func newTokenizeCmd() *cobra.Command {
	var path, file string
	var asJSON, idsOnly, add, parse bool
	cmd := &cobra.Command{
		Use:   "tokenize -m MODEL [--json] [--add-special=BOOL] [--parse-special=BOOL] [-f FILE | TEXT]",
		Short: "Print the token ids of a text",
		Long: `tokenize prints the token ids of TEXT (or of FILE; -f - reads stdin) under
the model's own tokenizer. --add-special (default true) adds BOS (and EOS) as
the model's metadata says; --parse-special (default false) turns special-token
text such as <｜User｜> into control tokens — llama.cpp's add_special and
parse_special.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := inputText(cmd, args, file)
			if err != nil {
				return err
			}
			tok, err := openTokenizer(path)
			if err != nil {
				return err
			}
			ids := tok.Encode(text, add, parse)
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				if ids == nil {
					ids = []int32{}
				}
				return json.NewEncoder(out).Encode(ids)
			case idsOnly:
				s := make([]string, len(ids))
				for i, id := range ids {
					s[i] = strconv.Itoa(int(id))
				}
				fmt.Fprintf(out, "[%s]\n", strings.Join(s, ", "))
			default:
				for _, id := range ids {
					fmt.Fprintf(out, "%6d -> %q\n", id, tok.Piece(id, true))
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&path, "model", "m", "", "model: path to a GGUF file or a name from dseek list")
	fl.StringVarP(&file, "file", "f", "", "read the text from FILE (- for stdin)")
	fl.BoolVar(&add, "add-special", true, "add BOS/EOS as the model's metadata says (--add-special=false to not)")
	fl.BoolVar(&parse, "parse-special", false, "turn special-token text into control tokens")
	fl.BoolVar(&asJSON, "json", false, "print a JSON array of ids")
	fl.BoolVar(&idsOnly, "ids", false, "print only the ids, as [a, b, c]")
	return cmd
}

func inputText(cmd *cobra.Command, args []string, file string) (string, error) {
	switch {
	case file != "" && len(args) > 0:
		return "", fmt.Errorf("pass either TEXT or -f FILE, not both")
	case file == "-":
		b, err := io.ReadAll(cmd.InOrStdin())
		return string(b), err
	case file != "":
		b, err := os.ReadFile(file)
		return string(b), err
	case len(args) == 1:
		return args[0], nil
	}
	return "", fmt.Errorf("no text: pass TEXT or -f FILE")
}

func newDetokenizeCmd() *cobra.Command {
	var path string
	var special bool
	cmd := &cobra.Command{
		Use:   "detokenize -m MODEL [--special] ID...",
		Short: "Print the text of token ids",
		Long: `detokenize prints the text of the token ids (given as arguments, separated by
spaces or commas). With --special, control tokens print their text; without,
they print nothing (llama.cpp's unparse_special).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDList("ID", strings.Join(args, ","))
			if err != nil {
				return err
			}
			tok, err := openTokenizer(path)
			if err != nil {
				return err
			}
			for i, id := range ids {
				if id < 0 || int(id) >= tok.VocabSize() {
					return fmt.Errorf("id %d at index %d is outside the vocabulary [0, %d)", id, i, tok.VocabSize())
				}
			}
			_, err = cmd.OutOrStdout().Write(tok.Decode(ids, special))
			return err
		},
	}
	cmd.Flags().StringVarP(&path, "model", "m", "", "model: path to a GGUF file or a name from dseek list")
	cmd.Flags().BoolVar(&special, "special", false, "render control tokens as their text")
	return cmd
}
