#pragma once
// Reading an untrusted HDF5 file in a child process first. libhdf5 (Debian's 1.10.8) trusts the
// file's internal structures: a corrupted global heap makes H5Dread of a variable-length string
// segfault, a corrupted local-heap size makes a group lookup allocate gigabytes (both found by
// fuzz/checkpoint.cpp; fuzz/findings/). Tessera cannot check those structures through the HDF5
// API before HDF5 walks them, so the read is done once in a forked child under a memory limit: a
// crash or runaway allocation there becomes an error naming the file, and this process only opens
// files that the child read through without failing.
#include <functional>
#include <string>

namespace tessera::io {

// Runs `read` in a forked child process (one thread, address space limited to the parent's current
// size + 1 GiB + 3x the file's size, 10 minutes). Returns when the child finished without error;
// throws std::runtime_error with the child's own exception message when `read` threw there, or
// with a message naming `path` and the signal / exit status / time limit when the child crashed.
// `read` must be deterministic: the caller runs the same read again in this process afterwards.
void check_read_in_child(const std::string& path, const std::function<void()>& read);

}  // namespace tessera::io
