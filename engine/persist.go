package engine

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/kernels"
	"github.com/dseek-ai/dseek/kvcache"
)

// The prefix cache file, one per model in CacheDir, named
// "prefix-<first 16 hex digits of the model fingerprint>.dskv". All
// integers are little-endian.
//
//	header (64 bytes)
//	  magic        [8]byte  "DSKVPFX\x00"
//	  version      uint32   prefixFileVersion
//	  kv type      uint32   dtype id of the cache rows (F16 = 1, F32 = 0)
//	  n_layer      uint32
//	  width        uint32   values per token per layer
//	  n_entries    uint32
//	  reserved     uint32   0
//	  fingerprint  [32]byte modelFingerprint
//	entry, n_entries times
//	  n_tokens     uint32   1 .. MaxSeqLen
//	  tokens       [n_tokens]int32, each in [0, n_vocab)
//	  rows         [n_layer][n_tokens][width] values of the kv type
//	  crc          uint32   CRC-32C of n_tokens, tokens and rows
//
// A file whose header does not match the running model and cache geometry
// is ignored as a whole. Entries are checked one by one (CRC, ids, finite
// values); loading stops at the first bad entry, keeping those before it.
// Nothing in a file can make loading panic or poison later results: an
// entry joins the prefix cache only after its CRC and values check out (a
// bad entry's pages are freed unused).
const (
	prefixFileMagic   = "DSKVPFX\x00"
	prefixFileVersion = 1
	prefixHeaderSize  = 64
	prefixMaxEntries  = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// modelFingerprint identifies the model a KV cache was computed with: a
// SHA-256 over the GGUF metadata, the tensor table and, when the file is
// memory-mapped, the first 256 bytes of every tensor (cheap views); without
// mmap the file's modification time stands in for the data.
func (e *Engine) modelFingerprint() ([32]byte, error) {
	h := sha256.New()
	fmt.Fprintf(h, "dseek-kv-fingerprint-1\n")
	for _, kv := range e.File.KVs {
		fmt.Fprintf(h, "%s\x00%d\x00%v\x00", kv.Key, kv.Type, kv.Value)
	}
	for i := range e.File.Tensors {
		ti := &e.File.Tensors[i]
		fmt.Fprintf(h, "%s\x00%d\x00%v\x00%d\x00%d\x00%d\x00", ti.Name, ti.Type, ti.Dims, ti.Offset, ti.Size, ti.Split)
		if !e.opt.NoMmap {
			data, err := e.File.TensorData(ti)
			if err != nil {
				return [32]byte{}, fmt.Errorf("fingerprint: tensor %s: %w", ti.Name, err)
			}
			h.Write(data[:min(len(data), 256)])
		}
	}
	if e.opt.NoMmap && e.File.Path != "" {
		if st, err := os.Stat(e.File.Path); err == nil {
			fmt.Fprintf(h, "%d\x00%d\x00", st.Size(), st.ModTime().UnixNano())
		}
	}
	var fp [32]byte
	h.Sum(fp[:0])
	return fp, nil
}

// prefixFilePath returns the cache file for this model.
func (s *Scheduler) prefixFilePath() (string, [32]byte, error) {
	fp, err := s.e.modelFingerprint()
	if err != nil {
		return "", fp, err
	}
	return filepath.Join(s.opt.CacheDir, "prefix-"+hex.EncodeToString(fp[:8])+".dskv"), fp, nil
}

// savePrefixCache writes every prefix entry to the cache file (a temporary
// file renamed over the old one). The caller must own the cache: the loop
// goroutine, or Shutdown after the loop has exited.
func (s *Scheduler) savePrefixCache() error {
	if err := os.MkdirAll(s.opt.CacheDir, 0o755); err != nil {
		return fmt.Errorf("prefix cache: %w", err)
	}
	path, fp, err := s.prefixFilePath()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.opt.CacheDir, ".prefix-*.tmp")
	if err != nil {
		return fmt.Errorf("prefix cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	s.e.mu.Lock()
	err = s.writePrefixFile(w, fp)
	s.e.mu.Unlock()
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("prefix cache: save %s: %w", path, err)
	}
	s.prefix.dirty = false
	s.lastSave = time.Now()
	s.log.Info("prefix cache saved", "path", path, "entries", len(s.prefix.entries), "tokens", s.prefix.tokens)
	return nil
}

// writePrefixFile writes the header and the entries.
func (s *Scheduler) writePrefixFile(w io.Writer, fp [32]byte) error {
	cfg := s.e.Cache.Config()
	var hdr [prefixHeaderSize]byte
	copy(hdr[:8], prefixFileMagic)
	le := binary.LittleEndian
	le.PutUint32(hdr[8:], prefixFileVersion)
	le.PutUint32(hdr[12:], uint32(cfg.Type))
	le.PutUint32(hdr[16:], uint32(cfg.NLayer))
	le.PutUint32(hdr[20:], uint32(cfg.Width))
	le.PutUint32(hdr[24:], uint32(len(s.prefix.entries)))
	copy(hdr[32:], fp[:])
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	for _, e := range s.prefix.entries {
		if err := s.writeEntry(w, e); err != nil {
			return err
		}
	}
	return nil
}

// writeEntry writes one entry with its CRC.
func (s *Scheduler) writeEntry(w io.Writer, e *prefixEntry) error {
	crc := crc32.New(crcTable)
	mw := io.MultiWriter(w, crc)
	le := binary.LittleEndian
	buf := le.AppendUint32(nil, uint32(len(e.tokens)))
	for _, t := range e.tokens {
		buf = le.AppendUint32(buf, uint32(t))
	}
	if _, err := mw.Write(buf); err != nil {
		return err
	}
	c := s.e.Cache
	for layer := 0; layer < c.Config().NLayer; layer++ {
		for pos := 0; pos < len(e.tokens); {
			f16, f32, n := c.Span(e.seq, layer, pos)
			buf = buf[:0]
			for _, v := range f16 {
				buf = le.AppendUint16(buf, v)
			}
			for _, v := range f32 {
				buf = le.AppendUint32(buf, math.Float32bits(v))
			}
			if _, err := mw.Write(buf); err != nil {
				return err
			}
			pos += n
		}
	}
	_, err := w.Write(le.AppendUint32(nil, crc.Sum32()))
	return err
}

// errBadPrefixFile marks a cache file that does not belong to this model or
// is damaged.
var errBadPrefixFile = errors.New("prefix cache file rejected")

// loadPrefixCache loads the cache file for this model, if any. Only a
// CacheDir that cannot be created is an error; a bad file is logged.
func (s *Scheduler) loadPrefixCache() error {
	if err := os.MkdirAll(s.opt.CacheDir, 0o755); err != nil {
		return fmt.Errorf("prefix cache: %w", err)
	}
	path, fp, err := s.prefixFilePath()
	if err != nil {
		s.log.Warn("prefix cache: not loaded", "err", err)
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		s.log.Warn("prefix cache: not loaded", "path", path, "err", err)
		return nil
	}
	defer f.Close()
	s.e.mu.Lock()
	n, err := s.readPrefixFile(bufio.NewReaderSize(f, 1<<20), fp)
	s.e.mu.Unlock()
	if err != nil {
		s.log.Warn("prefix cache: file damaged or stale, loaded what checked out", "path", path, "entries", n, "err", err)
	} else {
		s.log.Info("prefix cache loaded", "path", path, "entries", n, "tokens", s.prefix.tokens)
	}
	s.prefix.dirty = false
	return nil
}

// readPrefixFile reads a cache file into the prefix cache and returns the
// number of entries loaded. Loading stops early, without error, when the
// KV cache or the prefix-cache bound is full.
func (s *Scheduler) readPrefixFile(r io.Reader, fp [32]byte) (int, error) {
	cfg := s.e.Cache.Config()
	var hdr [prefixHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("%w: header: %v", errBadPrefixFile, err)
	}
	le := binary.LittleEndian
	switch {
	case string(hdr[:8]) != prefixFileMagic:
		return 0, fmt.Errorf("%w: bad magic", errBadPrefixFile)
	case le.Uint32(hdr[8:]) != prefixFileVersion:
		return 0, fmt.Errorf("%w: version %d, want %d", errBadPrefixFile, le.Uint32(hdr[8:]), prefixFileVersion)
	case dtype.Type(le.Uint32(hdr[12:])) != cfg.Type || int(le.Uint32(hdr[16:])) != cfg.NLayer || int(le.Uint32(hdr[20:])) != cfg.Width:
		return 0, fmt.Errorf("%w: cache geometry differs (type, layers, width)", errBadPrefixFile)
	case [32]byte(hdr[32:64]) != fp:
		return 0, fmt.Errorf("%w: written for another model", errBadPrefixFile)
	}
	count := le.Uint32(hdr[24:])
	if count > prefixMaxEntries {
		return 0, fmt.Errorf("%w: %d entries", errBadPrefixFile, count)
	}
	loaded := 0
	for i := uint32(0); i < count; i++ {
		ok, err := s.readEntry(r)
		if err != nil {
			return loaded, fmt.Errorf("entry %d: %w", i, err)
		}
		if !ok {
			break
		}
		loaded++
	}
	return loaded, nil
}

// readEntry reads one entry into a new cache sequence and adds it to the
// prefix cache. It returns false (and no error) when the entry does not fit.
func (s *Scheduler) readEntry(r io.Reader) (bool, error) {
	crc := crc32.New(crcTable)
	tr := io.TeeReader(r, crc)
	le := binary.LittleEndian
	var b4 [4]byte
	if _, err := io.ReadFull(tr, b4[:]); err != nil {
		return false, fmt.Errorf("%w: %v", errBadPrefixFile, err)
	}
	n := int(le.Uint32(b4[:]))
	if n < 1 || n > s.opt.MaxSeqLen {
		return false, fmt.Errorf("%w: %d tokens", errBadPrefixFile, n)
	}
	tokens, err := s.readTokens(tr, n)
	if err != nil {
		return false, err
	}
	c := s.e.Cache
	if n > c.FreeTokens() || (s.prefix.limit > 0 && s.prefix.tokens+n > s.prefix.limit) {
		return false, nil
	}
	seq := c.NewSeq()
	if _, err := c.Append(seq, n); err != nil {
		c.Free(seq)
		return false, nil
	}
	if err := s.readRows(tr, seq, n); err != nil {
		c.Free(seq)
		return false, err
	}
	want := crc.Sum32()
	if _, err := io.ReadFull(r, b4[:]); err != nil || le.Uint32(b4[:]) != want {
		c.Free(seq)
		return false, fmt.Errorf("%w: checksum mismatch", errBadPrefixFile)
	}
	s.prefix.add(tokens, seq)
	return true, nil
}

// readTokens reads n token ids and checks them against the vocabulary.
func (s *Scheduler) readTokens(r io.Reader, n int) ([]int32, error) {
	raw := make([]byte, 4*n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("%w: tokens: %v", errBadPrefixFile, err)
	}
	nv := uint32(s.e.Model.Config.NVocab)
	tokens := make([]int32, n)
	for i := range tokens {
		v := binary.LittleEndian.Uint32(raw[4*i:])
		if v >= nv {
			return nil, fmt.Errorf("%w: token id %d outside the vocabulary", errBadPrefixFile, v)
		}
		tokens[i] = int32(v)
	}
	return tokens, nil
}

// readRows reads the KV rows of an entry of n tokens into seq, rejecting
// non-finite values.
func (s *Scheduler) readRows(r io.Reader, seq kvcache.SeqID, n int) error {
	cfg := s.e.Cache.Config()
	es := 2
	if cfg.Type == dtype.F32 {
		es = 4
	}
	raw := make([]byte, cfg.Width*es)
	row := make([]float32, cfg.Width)
	for layer := 0; layer < cfg.NLayer; layer++ {
		for pos := 0; pos < n; pos++ {
			if _, err := io.ReadFull(r, raw); err != nil {
				return fmt.Errorf("%w: rows: %v", errBadPrefixFile, err)
			}
			if !decodeRow(row, raw, es) {
				return fmt.Errorf("%w: non-finite value in layer %d position %d", errBadPrefixFile, layer, pos)
			}
			s.e.Cache.Write(seq, layer, pos, row)
		}
	}
	return nil
}

// decodeRow converts raw little-endian F16 (es 2) or F32 (es 4) values into
// row and reports whether all are finite.
func decodeRow(row []float32, raw []byte, es int) bool {
	for i := range row {
		var v float32
		if es == 2 {
			v = kernels.F16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		} else {
			v = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
		row[i] = v
	}
	return true
}
