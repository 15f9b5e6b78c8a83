// Node ids given per call (gather's index, pair ends, walk starts) are checked inside the loop
// that reads them: the loop skips an id outside [0, limit) and raises a flag, and only then, after
// the (parallel) loop, check_ids scans for the first such id to name it in the error (a ValueError
// in Python). No extra pass while all ids are valid.
#pragma once
#include <c10/util/Exception.h>

#include <cstdint>

namespace graphkit {

template <typename index_t>
inline bool outside(index_t id, int64_t limit) {
  return id < 0 || static_cast<int64_t>(id) >= limit;
}

// Raise a ValueError naming the first id of ids[0:n] outside [0, limit), if there is one.
template <typename index_t>
void check_ids(const char* op, const char* name, const index_t* ids, int64_t n, int64_t limit) {
  for (int64_t k = 0; k < n; ++k)
    TORCH_CHECK_VALUE(!outside(ids[k], limit), op, ": ", name, "[", k, "] = ", static_cast<int64_t>(ids[k]),
                      " is out of range (outside [0, ", limit, "))");
}

}  // namespace graphkit
