// CUDA segment_reduce: [E, F] per-edge messages reduced over each CSR row (sum/mean/max/min, with
// the arg entry for max/min) by row_reduce (spmm.cu) with no index: entry k is row k of src.
#include <torch/library.h>

#include "common.cuh"

namespace graphkit {
namespace cuda {
namespace {

std::tuple<at::Tensor, at::Tensor> segment_reduce_cuda(const at::Tensor& rowptr, const at::Tensor& src,
                                                       c10::string_view reduce) {
  TORCH_CHECK(src.dim() == 2, "segment_reduce: src must be 2-D [E, F]");
  return row_reduce(rowptr.contiguous(), at::Tensor(), at::Tensor(), at::Tensor(), src,
                    parse_reduce(reduce, "segment_reduce"), src.size(0));
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) { m.impl("segment_reduce", &segment_reduce_cuda); }

}  // namespace cuda
}  // namespace graphkit
