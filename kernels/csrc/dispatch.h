// Index dtype dispatch shared by the CPU and CUDA kernels: the body sees index_t = int32_t or int64_t.
#pragma once
#include <c10/util/Exception.h>

#define GRAPHKIT_DISPATCH_INDEX(TYPE, NAME, ...)                                \
  [&] {                                                                          \
    if ((TYPE) == at::kInt) { using index_t = int32_t; return __VA_ARGS__(); }   \
    TORCH_CHECK((TYPE) == at::kLong, NAME, ": indices must be int32 or int64");  \
    using index_t = int64_t;                                                     \
    return __VA_ARGS__();                                                        \
  }()
