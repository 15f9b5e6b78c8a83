// The reductions of spmm and segment_reduce: named by strings at the op schemas ("sum", "mean",
// "max", "min"), the one place that turns them into the codes both devices' kernels switch on.
#pragma once
#include <c10/util/Exception.h>
#include <c10/util/string_view.h>

#include <cstdint>
#include <string>

#include "host_device.h"

namespace graphkit {

enum Reduce : int64_t { kSum = 0, kMean = 1, kMax = 2, kMin = 3 };

inline Reduce parse_reduce(c10::string_view name, const char* op) {
  if (name == "sum") return kSum;
  if (name == "mean") return kMean;
  if (name == "max") return kMax;
  TORCH_CHECK(name == "min", op, ": reduce must be 'sum', 'mean', 'max' or 'min', got '", std::string(name), "'");
  return kMin;
}

// max and min also return the arg entry of every output element.
GRAPHKIT_HOST_DEVICE inline bool has_arg(Reduce reduce) { return reduce == kMax || reduce == kMin; }

// Whether value v replaces the running max/min acc. NaN propagates as in torch.amax/amin: the first
// NaN of a segment wins and nothing replaces it, so the result never depends on the entry order.
// Ties keep the earlier entry. (v != v is NaN's test, also under nvcc's --use_fast_math.)
template <typename T>
GRAPHKIT_HOST_DEVICE inline bool arg_better(T v, T acc, bool is_max) {
  if (acc != acc) return false;
  return v != v || (is_max ? v > acc : v < acc);
}

}  // namespace graphkit
