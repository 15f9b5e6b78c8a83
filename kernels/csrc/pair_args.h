// Argument checks of pair_product and its backward, shared by the CPU and CUDA kernels.
#pragma once
#include <ATen/ATen.h>

namespace graphkit {

inline void check_pair_product_args(const at::Tensor& x, const at::Tensor& first, const at::Tensor& second) {
  TORCH_CHECK(x.dim() == 2, "pair_product: x must be 2-D [N, F], got ", x.sizes());
  TORCH_CHECK(first.sizes() == second.sizes() && first.dim() == 1,
              "pair_product: first and second must be 1-D of one length");
}

inline void check_pair_product_backward_args(const at::Tensor& ptr, const at::Tensor& ends, const at::Tensor& other,
                                             const at::Tensor& x, const at::Tensor& grad) {
  TORCH_CHECK(x.dim() == 2 && grad.dim() == 2 && grad.size(1) == x.size(1),
              "pair_product_backward: x [N, F] and grad [P, F] expected");
  TORCH_CHECK(ptr.numel() == x.size(0) + 1 && ends.numel() == 2 * grad.size(0) && other.numel() == 2 * grad.size(0),
              "pair_product_backward: index sizes do not match x and grad");
}

}  // namespace graphkit
