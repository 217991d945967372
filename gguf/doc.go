// Package gguf reads and writes GGUF files, the model container of ggml and
// llama.cpp.
//
// The format follows the GGUF specification (ggml repository, docs/gguf.md)
// and the reference reader gguf_init_from_file_impl in ggml/src/gguf.cpp:
//
//	magic "GGUF" | version uint32 | n_tensors uint64 | n_kv uint64
//	n_kv × (key string | value type uint32 | value)
//	n_tensors × (name string | n_dims uint32 | dims [n_dims]uint64 | type uint32 | offset uint64)
//	zero padding to general.alignment (default 32)
//	tensor data; each tensor's offset is relative to the start of this section
//	and a multiple of the alignment
//
// Everything is little-endian; a string is a uint64 byte length followed by
// the bytes (no terminator). GGUF v2 and v3 are read (they share this layout);
// v1 (32-bit counts) and big-endian files are rejected with a clear error.
//
// # Safety on hostile input
//
// Parse never panics and never allocates by a count or length it has not
// checked against the bytes left in the file: an array of N uint32 needs 4N
// bytes, a string of length L needs L bytes, a tensor info at least 24 bytes.
// Tensor shapes are limited to 4 dimensions (ggml GGML_MAX_DIMS), element
// counts and byte sizes are overflow-checked, and every tensor's data range must
// lie inside the file. Every format problem is reported as a *FormatError naming
// the byte offset and what was expected.
//
// The reader is otherwise as permissive as the spec: unlike ggml it reads
// nested arrays (up to 16 levels), does not limit tensor name length, and
// requires tensor data to be aligned and inside the file but not packed back
// to back. The Writer refuses what ggml cannot load (long tensor names, a
// non-uint32 general.alignment), except nested arrays, which the spec allows.
//
// # Tensor data
//
// Open maps the file read-only and TensorData returns zero-copy views into the
// mapping, so weights are paged in by the kernel only when touched. With
// Options.NoMmap (and for Parse over an io.ReaderAt) TensorData instead reads
// the tensor's bytes with ReadAt on every call into a new buffer.
//
// # Split models
//
// Files named like llama.cpp's gguf-split output, prefix-00001-of-00003.gguf
// (llama_split_path's "%s-%05d-of-%05d.gguf"), carrying the keys split.no,
// split.count and split.tensors.count, open as one model: see OpenWith.
//
// # Writing
//
// Writer streams a GGUF v3 file: metadata and tensor declarations first, then
// each tensor's bytes in declaration order, so a model never has to sit in RAM.
package gguf
